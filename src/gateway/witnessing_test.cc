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
const std::string kBinary = std::string(FIREBREAK_BINARY_DIR) + "/src/cli/firebreak";

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A witness process watching the demo force's log.
struct WitnessProcess {
  std::string name, dir;
  std::unique_ptr<ledger::CosignatureSigner> key;
  pid_t pid = -1;
  uint16_t port = 0;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string config() const { return dir + "/witness.json"; }

  void Start(const std::string& origin, const std::string& log_vkey) {
    fs::create_directories(dir);
    if (!key) {
      key = std::make_unique<ledger::CosignatureSigner>(*ledger::CosignatureSigner::Generate(name));
      ASSERT_TRUE(WriteFileAtomically(dir + "/w.key", key->PrivateKeyText() + "\n", 0600));
      ASSERT_TRUE(WriteFileAtomically(config(), R"({"key": "w.key", "state": "state.db", "listen": "127.0.0.1:0",
          "logs": [{"origin": ")" + origin + R"(", "keys": [")" + log_vkey + R"("]}]})"));
    }
    std::string err = dir + "/stderr";
    pid = fork();
    if (pid == 0) {
      FILE* f = std::freopen(err.c_str(), "w", stderr);
      (void)f;
      execl(kBinary.c_str(), kBinary.c_str(), "witness", "serve", "--config", config().c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    std::regex port_re("\\(port ([0-9]+)\\)");
    for (int i = 0; i < 2000 && port == 0; ++i) {
      std::ifstream in(err);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::smatch m;
      if (std::regex_search(text, m, port_re)) port = uint16_t(std::stoi(m[1]));
      if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GT(port, 0) << "witness " << name << " did not start";
  }
  void Kill() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    pid = -1;
  }
};

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

TEST(Witnessing, TwoOfThreeWithOneForkedAndOneDown) {
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  std::string dir = (fs::temp_directory_path() / ("witnessing_test_" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  demo::DemoOptions o;
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
  for (int i = 0; i < 3; ++i) {
    w[i].name = names[i];
    w[i].dir = dir + "/w" + std::to_string(i);
    w[i].Start(o.origin, log_vkey);
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

}  // namespace
}  // namespace firebreak::gateway
