// End to end: the console's replay of logged decisions against a candidate
// pack (POST /v1/console/policies/replay), on a synthetic force decided
// under strict-firewall, over HTTPS with client certificates.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/testing/suite.h"
#include "demo/demo.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"

namespace firebreak::gateway {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kSource = FIREBREAK_SOURCE_DIR;
const std::string kStrict = kSource + "/policies/uk/strict-firewall";
const std::string kNpcc = kSource + "/policies/uk/npcc-2020";
constexpr char kReplay[] = "/v1/console/policies/replay";

using testing::Client;
using testing::Reply;

class ConsoleReplayTest : public ::testing::Test {
 protected:
  static void Prepare() {
    dir_ = (fs::temp_directory_path() / ("console_replay_test_" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    demo::DemoOptions o;
    o.dir = dir_;
    o.subjects = 60;
    o.policy_packs = {kStrict};
    auto s = demo::CreateDemoForce(o);
    ASSERT_TRUE(s) << s.error().ToString();
    auto c = LoadConfig(s->config_path);
    ASSERT_TRUE(c) << c.error().ToString();
    c->port = 0;
    c->metrics_listen = "";
    c->access_log = false;
    c->publish_interval = std::chrono::milliseconds(20);
    c->verify_policy = false;
    c->policy_packs = {kStrict};
    auto gw = Gateway::Start(*c);
    ASSERT_TRUE(gw) << gw.error().ToString();
    gw_ = std::move(*gw).release();
    port_ = gw_->port();
    // The walk-through's requests (Immigration Enforcement about protected
    // people among them), decided under strict-firewall and logged.
    for (const demo::WalkStep& step : demo::WalkThrough(demo::Holder::kPoliceForce)) {
      Reply r = As(step.org, "POST", step.path, step.body);
      ASSERT_GT(r.status, 0) << step.text;
      ++requests_;
    }
    // Until every decision is published (the console reads the published log).
    for (int i = 0; i < 3000; ++i) {
      Reply r = As(demo::kOrgDpo, "POST", kReplay, Body(kStrict, 10000));
      ASSERT_EQ(r.status, 200) << r.body;
      if (r.Json().at("considered").to_number<int64_t>() >= requests_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the walk-through's decisions were never published";
  }
  static void TearDownTestSuite() {
    delete gw_;
    gw_ = nullptr;
    fs::remove_all(dir_);
  }
  void SetUp() override {
    FIREBREAK_PREPARE_SUITE(Prepare);
    ASSERT_NE(gw_, nullptr);
  }
  static Reply As(const std::string& org, const std::string& method, const std::string& target,
                  const std::string& body = "") {
    Client c(dir_, port_, org);
    return c.Request(method, target, body);
  }
  static std::string Body(const std::string& pack, int64_t last) {
    return json::serialize(json::object{{"packs", json::array{json::value(pack)}}, {"last", last}});
  }

  static inline std::string dir_;
  static inline Gateway* gw_ = nullptr;
  static inline uint16_t port_ = 0;
  static inline int64_t requests_ = 0;
};

TEST_F(ConsoleReplayTest, TheLivePackChangesNothing) {
  Reply r = As(demo::kOrgDpo, "POST", kReplay, Body(kStrict, 10000));
  ASSERT_EQ(r.status, 200) << r.body;
  json::object o = r.Json();
  EXPECT_GE(o.at("considered").to_number<int64_t>(), requests_);
  EXPECT_EQ(o.at("replayed").to_number<int64_t>() + o.at("not_replayed").to_number<int64_t>(),
            o.at("considered").to_number<int64_t>());
  EXPECT_EQ(o.at("not_replayed").to_number<int64_t>(), 0) << r.body;
  EXPECT_EQ(o.at("changed").to_number<int64_t>(), 0) << r.body;
  EXPECT_TRUE(o.at("changes").as_array().empty());
  EXPECT_EQ(o.at("candidate_hash"), o.at("live_hash"));
}

TEST_F(ConsoleReplayTest, AWeakerCandidateChangesDecisionsAndSaysWhich) {
  Reply r = As(demo::kOrgDpo, "POST", kReplay, Body(kNpcc, 10000));
  ASSERT_EQ(r.status, 200) << r.body;
  json::object o = r.Json();
  const json::array& changes = o.at("changes").as_array();
  ASSERT_FALSE(changes.empty()) << r.body;
  EXPECT_EQ(o.at("changed").to_number<size_t>(), changes.size());
  EXPECT_NE(o.at("candidate_hash"), o.at("live_hash"));
  bool ie_permitted = false;
  for (const json::value& v : changes) {
    const json::object& c = v.as_object();
    const json::object& live = c.at("live").as_object();
    const json::object& cand = c.at("candidate").as_object();
    EXPECT_TRUE(live.at("decision") != cand.at("decision") || live.at("disclosed") != cand.at("disclosed") ||
                live.at("obligations") != cand.at("obligations"))
        << json::serialize(c);
    if (c.at("requester_type") == "home-office-immigration-enforcement" && live.at("decision") == "deny" &&
        cand.at("decision") == "permit") {
      ie_permitted = true;
      EXPECT_FALSE(cand.at("rules").as_array().empty());
    }
    // Codes only: never a pseudonym, a name or the subject's facts.
    for (const char* key : {"subject", "pseudonym", "roles", "flags", "cases", "records", "opened"}) {
      EXPECT_FALSE(c.contains(key)) << key;
    }
    EXPECT_TRUE(c.contains("index") && c.contains("time") && c.contains("purpose")) << json::serialize(c);
  }
  EXPECT_TRUE(ie_permitted) << "a refusal of Immigration Enforcement that the weaker pack would permit";
  for (const demo::Planted& p : demo::PlantedSubjects()) {
    EXPECT_EQ(r.body.find(p.family_name), std::string::npos) << p.family_name;
  }
}

TEST_F(ConsoleReplayTest, LastCountsFromTheNewestDecision) {
  Reply r = As(demo::kOrgDpo, "POST", kReplay, Body(kNpcc, 1));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("considered").to_number<int64_t>(), 1);
  EXPECT_EQ(r.Json().at("last").to_number<int64_t>(), 1);
  Reply d = As(demo::kOrgDpo, "POST", kReplay, json::serialize(json::object{{"packs", json::array{json::value(kNpcc)}}}));
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.Json().at("last").to_number<int64_t>(), 1000);
}

TEST_F(ConsoleReplayTest, OnlyTheDpo) {
  for (const char* org : {demo::kOrgAnalyst, demo::kOrgInspectorate, demo::kOrgImmigrationEnforcement,
                          demo::kOrgRecordsSystem}) {
    Reply r = As(org, "POST", kReplay, Body(kNpcc, 10));
    EXPECT_EQ(r.status, 403) << org << ": " << r.body;
    EXPECT_EQ(r.body.find("changes"), std::string::npos);
  }
  EXPECT_EQ(As("", "POST", kReplay, Body(kNpcc, 10)).status, 401);
  EXPECT_EQ(As(demo::kOrgDpo, "GET", kReplay).status, 405);
}

TEST_F(ConsoleReplayTest, BadInputNamesTheField) {
  struct Case {
    std::string body, field;
  } cases[] = {
      {Body("/nonexistent/pack", 10), "packs"},
      {Body(kSource + "/README.md", 10), "packs"},
      {R"({"packs": "x"})", "packs"},
      {R"({"packs": []})", "packs"},
      {R"({"last": 5})", "packs"},
      {Body(kNpcc, 0), "last"},
      {Body(kNpcc, 10001), "last"},
      {R"({"packs": [")" + kNpcc + R"("], "last": "ten"})", "last"},
      {R"({"packs": [")" + kNpcc + R"("], "colour": 1})", "colour"},
  };
  for (const Case& c : cases) {
    Reply r = As(demo::kOrgDpo, "POST", kReplay, c.body);
    EXPECT_EQ(r.status, 400) << c.body << ": " << r.body;
    json::object o = r.Json();
    ASSERT_TRUE(o.contains("error")) << r.body;
    EXPECT_EQ(o.at("error").as_object().at("field"), c.field.c_str()) << c.body;
  }
  Reply r = As(demo::kOrgDpo, "POST", kReplay, "not json");
  EXPECT_EQ(r.status, 400);
}

}  // namespace
}  // namespace firebreak::gateway
