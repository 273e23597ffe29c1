// The national view on three demo forces served at once on loopback:
//   steady   — the strict firewall, pinned by the deployment, all along;
//   dropped  — pinned at first, then restarted under NPCC 2020 with the
//              deployment's pins removed: it stops pinning, and stands out;
//   forged   — served fine, but the fleet file holds the verifier key the
//              oversight body was given, which is not the one signing the
//              log: it does not verify, and stands out.
#include "oversight/fleet/fleet.h"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/base.h"
#include "demo/demo.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "oversight/monitor/monitor.h"

namespace firebreak::oversight {
namespace {

namespace fs = std::filesystem;
using gateway::testing::Call;
using gateway::testing::Disclosure;
using gateway::testing::Ref;

const std::string kSource = FIREBREAK_SOURCE_DIR;
const std::string kStrict = kSource + "/policies/uk/strict-firewall";
const std::string kNpcc = kSource + "/policies/uk/npcc-2020";

struct Force {
  std::string dir, vkey;
  gateway::GatewayConfig config;
  std::unique_ptr<gateway::Gateway> gw;
  uint64_t expected = 0;  // entries the log must publish before the fleet runs
};

void Traffic(Force& f, int n) {
  for (int i = 0; i < n; ++i) {
    auto reply = Call(f.dir, f.gw->port(), "POST", "/v1/disclosures",
                      Disclosure("immigration-enforcement", "disclose", {"address"}, "iaa-1999-s20",
                                 "immigration-officer", Ref("DEMO-R05")),
                      demo::kOrgImmigrationEnforcement);
    ASSERT_TRUE(reply.status == 200 || reply.status == 403) << reply.body;
  }
}

// Waits until the served checkpoint covers `n` entries.
void WaitPublished(const Force& f, uint64_t n) {
  auto fetch = FetchFromUrl(fmt::format("https://localhost:{}/log/", f.gw->port()), f.dir + "/pki/ca.pem");
  ASSERT_TRUE(fetch) << fetch.error().ToString();
  auto key = ledger::NoteVerifier::FromKeyText(f.vkey);
  ASSERT_TRUE(key);
  uint64_t served = 0;
  for (int i = 0; i < 500 && served < n; ++i) {
    if (auto text = (*fetch)("checkpoint")) {
      if (auto cp = ledger::OpenCheckpoint(*text, *key)) served = cp->size;
    }
    if (served < n) usleep(10'000);
  }
  ASSERT_GE(served, n) << f.dir << " never published its entries";
}

std::unique_ptr<Force> Start(const std::string& dir, std::vector<std::string> packs) {
  auto f = std::make_unique<Force>();
  f->dir = dir;
  fs::remove_all(dir);
  demo::DemoOptions o;
  o.dir = dir;
  o.subjects = 20;
  o.policy_packs = {kStrict};
  auto s = demo::CreateDemoForce(o);
  EXPECT_TRUE(s) << s.error().ToString();
  if (!s) return nullptr;
  auto c = gateway::LoadConfig(s->config_path);
  EXPECT_TRUE(c) << c.error().ToString();
  if (!c) return nullptr;
  c->port = 0;
  c->metrics_listen = "";
  c->access_log = false;
  c->publish_interval = std::chrono::milliseconds(20);
  f->vkey = s->log_verifier_key;
  f->config = *c;
  (void)packs;
  return f;
}

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = (fs::temp_directory_path() / ("fleet_test_" + std::to_string(getpid()))).string(); }
  void TearDown() override {
    for (auto& f : forces_) {
      if (f && f->gw) (void)f->gw->Stop();
    }
    fs::remove_all(root_);
  }
  std::string root_;
  std::vector<std::unique_ptr<Force>> forces_;
};

TEST_F(FleetTest, ThreeForcesAtOnceAndTheOnesThatStandOut) {
  for (const char* name : {"steady", "dropped", "forged"}) {
    forces_.push_back(Start(root_ + "/" + name, {kStrict}));
    ASSERT_TRUE(forces_.back());
  }
  // "dropped": one run pinned, then a restart under NPCC 2020 without pins.
  {
    Force& d = *forces_[1];
    auto gw = gateway::Gateway::Start(d.config);
    ASSERT_TRUE(gw) << gw.error().ToString();
    d.gw = std::move(*gw);
    Traffic(d, 3);
    ASSERT_TRUE(d.gw->Stop());
    d.gw.reset();
    d.config.policy_packs = {kNpcc};
    d.config.required.reset();
    d.expected = 4;
  }
  // All three served at once.
  for (auto& f : forces_) {
    auto gw = gateway::Gateway::Start(f->config);
    ASSERT_TRUE(gw) << gw.error().ToString();
    f->gw = std::move(*gw);
    Traffic(*f, 2);
    f->expected += 3;
    WaitPublished(*f, f->expected);
  }
  auto other = ledger::NoteSigner::Generate("firebreak.example/example-constabulary/decisions");
  ASSERT_TRUE(other);
  std::string fleet_text = "{\"holders\": [";
  const char* names[] = {"steady", "dropped", "forged"};
  for (size_t i = 0; i < 3; ++i) {
    std::string vkey = i == 2 ? other->VerifierKeyText() : forces_[i]->vkey;
    fleet_text += fmt::format("{}{{\"name\": \"{}\", \"log\": \"https://localhost:{}/log/\", \"vkey\": \"{}\", "
                              "\"ca_file\": \"{}\"}}",
                              i ? ", " : "", names[i], forces_[i]->gw->port(), vkey, forces_[i]->dir + "/pki/ca.pem");
  }
  fleet_text += "]}";
  auto fleet = ParseFleetFile(fleet_text);
  ASSERT_TRUE(fleet) << fleet.error().ToString();
  FleetOptions o;
  o.fleet = *fleet;
  o.state_dir = root_ + "/state";
  auto views = RunFleet(o);
  ASSERT_TRUE(views) << views.error().ToString();
  ASSERT_EQ(views->size(), 3u);
  const HolderView& steady = (*views)[0];
  const HolderView& dropped = (*views)[1];
  const HolderView& forged = (*views)[2];
  std::string summary = FleetSummary(*views);

  EXPECT_TRUE(steady.verified) << summary;
  EXPECT_TRUE(steady.pinned_now) << summary;
  EXPECT_TRUE(steady.stands_out.empty()) << summary;
  EXPECT_EQ(steady.size, 3u);
  ASSERT_EQ(steady.policy_events.size(), 1u);
  EXPECT_FALSE(steady.policy_events[0].pins.empty());
  ASSERT_EQ(steady.runs.size(), 1u);
  EXPECT_EQ(steady.runs[0].decisions, 2u);
  EXPECT_EQ(steady.runs[0].policy_hash, steady.policy_in_force);

  EXPECT_TRUE(dropped.verified) << summary;
  EXPECT_FALSE(dropped.pinned_now) << summary;
  ASSERT_TRUE(dropped.stopped_pinning_at.has_value()) << summary;
  ASSERT_EQ(dropped.policy_events.size(), 2u);
  EXPECT_TRUE(dropped.policy_events[0].pinned);
  EXPECT_FALSE(dropped.policy_events[1].pinned);
  EXPECT_NE(dropped.policy_events[0].policy_hash, dropped.policy_events[1].policy_hash);
  ASSERT_EQ(dropped.runs.size(), 2u);  // 3 decisions under the strict pack, 2 under NPCC
  EXPECT_EQ(dropped.runs[0].decisions, 3u);
  EXPECT_EQ(dropped.runs[1].decisions, 2u);
  ASSERT_EQ(dropped.stands_out.size(), 1u) << summary;
  EXPECT_NE(dropped.stands_out[0].find("Stopped pinning"), std::string::npos);

  EXPECT_FALSE(forged.verified) << summary;
  EXPECT_TRUE(forged.policy_events.empty());
  EXPECT_FALSE(forged.stands_out.empty());
  EXPECT_NE(summary.find("!! forged"), std::string::npos) << summary;
  EXPECT_NE(summary.find("!! dropped"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("!! steady"), std::string::npos) << summary;
  EXPECT_EQ(summary.rfind("3 holders; 2 stand out.", 0), 0u) << summary;

  // A second pass resumes from the mirrors and sees the new entries.
  Traffic(*forces_[0], 1);
  WaitPublished(*forces_[0], 4);
  auto again = RunFleet(o);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[0].size, 4u);
  EXPECT_EQ((*again)[0].runs[0].decisions, 3u);
}

TEST(FleetFile, BadInputNamesTheField) {
  auto err = [](const std::string& text) {
    auto f = ParseFleetFile(text);
    EXPECT_FALSE(f) << text;
    return f ? std::string() : f.error().message();
  };
  EXPECT_NE(err("[").find("not JSON"), std::string::npos);
  EXPECT_NE(err("{\"holders\": []}").find("holders"), std::string::npos);
  EXPECT_NE(err("{\"holders\": [{\"name\": \"a\", \"log\": \"x\"}]}").find("holders[0].vkey"), std::string::npos);
  EXPECT_NE(err("{\"holders\": [{\"name\": \"../a\", \"log\": \"x\", \"vkey\": \"k\"}]}").find("holders[0].name"),
            std::string::npos);
  EXPECT_NE(err("{\"holders\": [{\"name\": \"a\", \"log\": \"x\", \"vkey\": \"k\", \"port\": \"1\"}]}").find("port"),
            std::string::npos);
  EXPECT_NE(err("{\"holders\": [{\"name\": \"a\", \"log\": \"x\", \"vkey\": \"k\"}, "
                "{\"name\": \"a\", \"log\": \"y\", \"vkey\": \"k\"}]}")
                .find("twice"),
            std::string::npos);
  EXPECT_NE(err("{\"holders\": [{\"name\": \"a\", \"log\": \"x\", \"vkey\": \"k\"}], \"national_pins\": [1]}")
                .find("national_pins[0]"),
            std::string::npos);
  auto ok = ParseFleetFile(
      "{\"national_pins\": [\"A1\"], \"holders\": [{\"name\": \"a\", \"log\": \"x\", \"vkey\": \"k\"}]}");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->national_pins, std::vector<std::string>{"A1"});
}

}  // namespace
}  // namespace firebreak::oversight
