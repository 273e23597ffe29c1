// The gateway as a witnessed log, end to end: a demo force's gateway with
// three witnesses (`firebreak witness serve` processes) and a 2-of-3
// policy. One witness holds a forked checkpoint of the log from the start;
// later another goes down. The gateway keeps serving throughout, serves
// /log/checkpoint and receipts with the cosignatures it collected, and
// raises the alarm (metric + log line) for the forked and the missing one.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/base.h"
#include "demo/demo.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"
#include "gateway/testing/witness_process.h"
#include "http/client.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "ledger/witness_protocol.h"

namespace firebreak::gateway {
namespace {

namespace fs = std::filesystem;
using testing::Call;
using testing::Disclosure;
using testing::Reply;

const std::string kSource = FIREBREAK_SOURCE_DIR;
using testing::kFirebreakBinary;
using testing::Trimmed;
using testing::WitnessProcess;
const std::string kBinary = kFirebreakBinary;


// The cosignatures on `note` that verify under `witnesses`.
size_t ValidCosignatures(const std::string& note, const std::vector<ledger::NoteVerifier>& witnesses) {
  auto parsed = ledger::ParseNote(note);
  if (!parsed) return 0;
  size_t n = 0;
  for (const ledger::NoteVerifier& w : witnesses) {
    for (const ledger::NoteSignature& s : parsed->signatures) {
      if (s.name == w.name() && s.key_id == w.key_id() && w.Verify(parsed->text, s.signature)) {
        ++n;
        break;
      }
    }
  }
  return n;
}

TEST(Witnessing, ConfigurationNamesWhatIsWrong) {
  std::string dir = (fs::temp_directory_path() / ("witnessing_config_" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  demo::DemoOptions o;
  o.origin = "firebreak.example/example-constabulary/decisions";
  o.dir = dir;
  o.subjects = 10;
  o.policy_packs = {kSource + "/policies/uk/strict-firewall"};
  auto force = demo::CreateDemoForce(o);
  ASSERT_TRUE(force) << force.error().ToString();
  std::string base = *ReadFile(force->config_path);
  base = base.substr(0, base.rfind('}'));
  auto with = [&](const std::string& witnesses) {
    return ParseConfig(base + R"(, "witnesses": )" + witnesses + "}", force->config_path);
  };
  auto w1 = *ledger::CosignatureSigner::Generate("witness.example/one");
  auto w2 = *ledger::CosignatureSigner::Generate("witness.example/two");
  std::string list = R"({"list": [{"url": "https://w1.example/", "key": ")" + w1.Verifier().KeyText() +
                     R"("}, {"url": "http://w2.example", "key": ")" + w2.Verifier().KeyText() + R"("}])";
  auto ok = with(list + R"(, "quorum": 1, "wait": true, "timeout_ms": 500})");
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->witnesses.size(), 2u);
  EXPECT_EQ(ok->witnesses[0].url, "https://w1.example");  // the final "/" dropped
  EXPECT_EQ(ok->witness_quorum, 1u);
  EXPECT_TRUE(ok->witness_wait);
  EXPECT_EQ(with(list + "}")->witness_quorum, 2u);  // default: all
  auto expect_error = [&](const std::string& w, const std::string& says) {
    auto c = with(w);
    ASSERT_FALSE(c) << w;
    EXPECT_NE(c.error().ToString().find(says), std::string::npos) << c.error().ToString();
  };
  expect_error(list + R"(, "quorum": 3})", "quorum");
  expect_error(list + R"(, "colour": 1})", "witnesses.colour");
  expect_error(R"({"list": [{"url": "ftp://w", "key": "x"}]})", "witnesses.list[0].url");
  // A log's note key (type 0x01) is not a witness key.
  auto log = *ledger::NoteSigner::Generate("firebreak.example/log");
  expect_error(R"({"list": [{"url": "http://w", "key": ")" + log.VerifierKeyText() + R"("}]})",
               "witnesses.list[0].key");
  expect_error(R"({"list": [], "wait": true})", "quorum");
  fs::remove_all(dir);
}

TEST(Witnessing, TwoOfThreeWithOneForkedAndOneDown) {
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  std::string dir = (fs::temp_directory_path() / ("witnessing_test_" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  demo::DemoOptions o;
  o.origin = "firebreak.example/example-constabulary/decisions";
  o.dir = dir + "/force";
  o.subjects = 300;
  o.policy_packs = {kSource + "/policies/uk/strict-firewall"};
  auto force = demo::CreateDemoForce(o);
  ASSERT_TRUE(force) << force.error().ToString();
  std::string log_vkey = Trimmed(*ReadFile(o.dir + "/keys/log.vkey"));
  auto log_key = ledger::NoteSigner::FromKeyText(Trimmed(*ReadFile(o.dir + "/keys/log.key")));
  ASSERT_TRUE(log_key);

  std::vector<WitnessProcess> w(3);
  const char* names[] = {"witness.example/inspectorate", "witness.example/conduct-office",
                         "witness.example/forked"};
  // The first serves HTTPS (the demo's server certificate, for 127.0.0.1),
  // checked by the gateway against the demo CA.
  w[0].tls_cert = o.dir + "/pki/server.pem";
  w[0].tls_key = o.dir + "/pki/server.key";
  for (int i = 0; i < 3; ++i) {
    w[i].name = names[i];
    w[i].dir = dir + "/w" + std::to_string(i);
    ASSERT_TRUE(w[i].Start(o.origin, log_vkey)) << names[i];
  }
  std::vector<ledger::NoteVerifier> verifiers;
  for (auto& x : w) verifiers.push_back(x.key->Verifier());

  // Witness 2 is shown a fork first: a checkpoint of size 1, signed with the
  // log's own key, whose root is not the log's.
  {
    ledger::Checkpoint fork{o.origin, 1, ledger::HashLeaf("not the log's first entry"), {}};
    const ledger::NoteSigner* s[] = {&*log_key};
    auto client = *http::Client::Create({});
    auto r = client->Post(w[2].url() + "/add-checkpoint",
                          ledger::FormatAddCheckpoint({0, {}, *ledger::SignNote(fork.Text(), s)}), "text/plain");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }

  auto config = LoadConfig(force->config_path);
  ASSERT_TRUE(config);
  config->port = 0;
  config->metrics_listen = "127.0.0.1:0";
  config->access_log = false;
  config->publish_interval = std::chrono::milliseconds(50);
  config->worker_threads = 8;
  for (auto& x : w) config->witnesses.push_back({x.url(), x.key->Verifier().KeyText()});
  config->witness_quorum = 2;
  config->witness_timeout = std::chrono::milliseconds(1000);
  config->witness_ca = o.dir + "/pki/ca.pem";
  auto gw = Gateway::Start(*config);
  ASSERT_TRUE(gw) << gw.error().ToString();
  uint16_t port = (*gw)->port();

  auto disclose = [&] {
    return Call(o.dir, port, "POST", "/v1/disclosures",
                Disclosure("immigration-enforcement", "disclose", {"address"}, "iaa-1999-s20", "immigration-officer",
                           R"({"given_name":"jakub","family_name":"KOWALSKI","date_of_birth":"1983-03-03"})"),
                demo::kOrgImmigrationEnforcement);
  };
  auto metrics = [&] { return testing::PlainGet((*gw)->metrics_port(), "/metrics").body; };
  auto wait_for = [](auto pred) {
    for (int i = 0; i < 400; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  };

  // Phase 1: two honest witnesses cosign; the forked one is an alarm.
  Reply r = disclose();
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id(r.Json().at("receipt").as_string());
  uint64_t index = std::stoull(id.substr(0, id.find('-')));
  std::string served;
  ASSERT_TRUE(wait_for([&] {
    served = Call(o.dir, port, "GET", "/log/checkpoint", "", "").body;
    auto cp = ledger::OpenCheckpoint(served, *ledger::NoteVerifier::FromKeyText(log_vkey));
    return cp && cp->size > index && ValidCosignatures(served, verifiers) >= 2;
  })) << served;
  EXPECT_EQ(ValidCosignatures(served, {verifiers[2]}), 0u) << "the forked witness cosigned";
  Reply proof = Call(o.dir, port, "GET", "/v1/receipts/" + id, "", demo::kOrgImmigrationEnforcement);
  ASSERT_EQ(proof.status, 200) << proof.body;
  auto receipt = ledger::ParseReceipt(proof.body);
  ASSERT_TRUE(receipt);
  std::vector<const ledger::NoteVerifier*> vs{&verifiers[0], &verifiers[1], &verifiers[2]};
  auto log_verifier = *ledger::NoteVerifier::FromKeyText(log_vkey);
  auto ok = ledger::VerifyReceipt(*receipt, receipt->extra, log_verifier, vs, 2);
  EXPECT_TRUE(ok) << ledger::ReceiptErrorName(ok.error());
  std::string forked_alarm = R"(firebreak_witness_alarms_total{witness="witness.example/forked",reason=)";
  ASSERT_TRUE(wait_for([&] { return metrics().find(forked_alarm) != std::string::npos; })) << metrics();

  // Phase 2: a second witness goes down. The gateway keeps serving; the
  // missing witness is counted; the served checkpoint stays one that two
  // witnesses cosigned.
  w[1].Kill();
  for (int i = 0; i < 5; ++i) {
    Reply again = disclose();
    EXPECT_EQ(again.status, 200) << again.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  std::string down = R"(firebreak_witness_errors_total{witness="witness.example/conduct-office",reason="unavailable"})";
  ASSERT_TRUE(wait_for([&] { return metrics().find(down) != std::string::npos; })) << metrics();
  served = Call(o.dir, port, "GET", "/log/checkpoint", "", "").body;
  EXPECT_GE(ValidCosignatures(served, verifiers), 2u) << served;
  // The metrics say how far the log is witnessed (holder-only, as all metrics).
  EXPECT_NE(metrics().find("firebreak_log_witnessed_size"), std::string::npos);
  ASSERT_TRUE((*gw)->Stop());

  // The forked witness kept the gateway's requests as evidence.
  w[2].Kill();
  std::string out = dir + "/evidence.json";
  std::string cmd = kBinary + " witness evidence --config " + w[2].config() + " > " + out;
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  std::string evidence = *ReadFile(out);
  EXPECT_NE(evidence.find(o.origin), std::string::npos);
  EXPECT_NE(evidence.find("does not verify"), std::string::npos) << evidence;
  w[0].Kill();
  fs::remove_all(dir);
}

// witnesses.wait: a disclosure is answered only once a witnessed checkpoint
// covers its entry; with no witness reachable it fails closed and the entry
// is followed by one saying the answer was not delivered.
TEST(Witnessing, WaitModeAnswersOnlyWitnessedDisclosures) {
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  std::string dir = (fs::temp_directory_path() / ("witnessing_wait_" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  demo::DemoOptions o;
  o.origin = "firebreak.example/example-constabulary/decisions";
  o.dir = dir + "/force";
  o.subjects = 300;
  o.policy_packs = {kSource + "/policies/uk/strict-firewall"};
  auto force = demo::CreateDemoForce(o);
  ASSERT_TRUE(force) << force.error().ToString();
  std::string log_vkey = Trimmed(*ReadFile(o.dir + "/keys/log.vkey"));
  WitnessProcess w;
  w.name = "witness.example/only";
  w.dir = dir + "/w";
  ASSERT_TRUE(w.Start(o.origin, log_vkey));
  auto config = LoadConfig(force->config_path);
  ASSERT_TRUE(config);
  config->port = 0;
  config->metrics_listen = "127.0.0.1:0";
  config->access_log = false;
  config->publish_interval = std::chrono::milliseconds(50);
  config->worker_threads = 8;
  config->witnesses.push_back({w.url(), w.key->Verifier().KeyText()});
  config->witness_quorum = 1;
  config->witness_wait = true;
  config->witness_wait_timeout = std::chrono::milliseconds(500);
  config->witness_timeout = std::chrono::milliseconds(300);
  auto gw = Gateway::Start(*config);
  ASSERT_TRUE(gw) << gw.error().ToString();
  uint16_t port = (*gw)->port();
  auto disclose = [&] {
    return Call(o.dir, port, "POST", "/v1/disclosures",
                Disclosure("immigration-enforcement", "disclose", {"address"}, "iaa-1999-s20", "immigration-officer",
                           R"({"given_name":"jakub","family_name":"KOWALSKI","date_of_birth":"1983-03-03"})"),
                demo::kOrgImmigrationEnforcement);
  };
  Reply r = disclose();
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id(r.Json().at("receipt").as_string());
  uint64_t index = std::stoull(id.substr(0, id.find('-')));
  // Answered: so the served checkpoint already covers it, cosigned.
  std::string served = Call(o.dir, port, "GET", "/log/checkpoint", "", "").body;
  auto cp = ledger::OpenCheckpoint(served, *ledger::NoteVerifier::FromKeyText(log_vkey));
  ASSERT_TRUE(cp);
  EXPECT_GT(cp->size, index);
  EXPECT_EQ(ValidCosignatures(served, {w.key->Verifier()}), 1u);

  // The only witness goes down: disclosures fail closed.
  w.Kill();
  Reply refused = disclose();
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.body.find("KOWALSKI"), std::string::npos);
  EXPECT_EQ(refused.body.find("address_line"), std::string::npos);
  std::string m = testing::PlainGet((*gw)->metrics_port(), "/metrics").body;
  EXPECT_NE(m.find("firebreak_witness_wait_timeouts_total"), std::string::npos) << m;
  ASSERT_TRUE((*gw)->Stop());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace firebreak::gateway
