// The audit against real logs: a demo force's gateway decides the scenario
// matrix and a random mix of requests under the strict firewall, then, after
// a restart, under the NPCC 2020 baseline (which lets Immigration
// Enforcement locate some victims). The clean log has no findings; a copy
// with planted faults has exactly the planted ones.
#include "oversight/audit/audit.h"

#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/base.h"
#include "base/testing/suite.h"
#include "demo/demo.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"
#include "ledger/appender.h"
#include "ledger/log_reader.h"
#include "ledger/storage.h"
#include "oversight/monitor/monitor.h"

namespace firebreak::oversight {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using gateway::testing::Call;
using gateway::testing::Disclosure;
using gateway::testing::Ref;

const std::string kSource = FIREBREAK_SOURCE_DIR;
const std::string kPacks = kSource + "/policies/uk";
const std::string kStrict = kPacks + "/strict-firewall";
const std::string kNpcc = kPacks + "/npcc-2020";

struct Sent {
  std::string org, endpoint, body;
};

// The scenario matrix's requests and `n` random ones about random subjects.
std::vector<Sent> Requests(size_t n, uint64_t seed) {
  const char* ie = demo::kOrgImmigrationEnforcement;
  const char* force = demo::kOrgRecordsSystem;
  auto ie_enf = [&](std::vector<std::string> cats, const std::string& ref, const char* purpose = "immigration-enforcement") {
    return Disclosure(purpose, "disclose", cats, "iaa-1999-s20", "immigration-officer", Ref(ref));
  };
  std::vector<Sent> out = {
      {force, "/v1/decisions",
       Disclosure("immigration-status-check", "referral", {"identity", "nationality"}, "iaa-1999-s20", "police-officer",
                  Ref("DEMO-R01"))},
      {force, "/v1/decisions",
       Disclosure("immigration-status-check", "status-check", {"identity", "nationality"}, "iaa-1999-s20",
                  "police-officer", Ref("DEMO-R03"))},
      {ie, "/v1/disclosures", ie_enf({"identity", "address"}, "DEMO-R04")},
      {ie, "/v1/disclosures", ie_enf({"address", "contact"}, "DEMO-R05")},
      {ie, "/v1/disclosures", ie_enf({"address", "contact"}, "DEMO-R06")},
      {demo::kOrgVisas, "/v1/disclosures",
       Disclosure("immigration-application-support", "disclose", {"identity", "incident", "case-outcome"}, "consent",
                  "caseworker", Ref("DEMO-R08"))},
      {force, "/v1/decisions",
       Disclosure("immigration-status-check", "status-check", {"identity", "biometrics"}, "iaa-1999-s20",
                  "custody-officer", Ref("DEMO-R09"))},
      {ie, "/v1/disclosures", ie_enf({"address", "contact"}, "DEMO-R05", "criminal-investigation")},
      {demo::kOrgCouncil, "/v1/disclosures",
       Disclosure("safeguarding", "referral", {"identity", "contact", "incident", "nationality"}, "ukgdpr-6-1-e",
                  "social-worker", Ref("DEMO-R14"))},
      {force, "/v1/decisions", Disclosure("statistics", "disclose", {"incident"}, "ukgdpr-6-1-e", "analyst", "")},
      {ie, "/v1/disclosures", ie_enf({"address"}, "NO-SUCH-PERSON")},
  };
  std::mt19937_64 rng(seed);
  const std::vector<std::string> cats = {"address", "contact", "identity", "nationality", "incident", "health"};
  for (size_t i = 0; i < n; ++i) {
    std::string ref = fmt::format("EXC-{:07}", 1 + rng() % 300);
    std::vector<std::string> asked = {cats[rng() % cats.size()], cats[rng() % cats.size()]};
    if (asked[0] == asked[1]) asked.pop_back();
    switch (rng() % 4) {
      case 0: out.push_back({ie, "/v1/disclosures", ie_enf(asked, ref)}); break;
      case 1: out.push_back({ie, "/v1/disclosures", ie_enf(asked, ref, "criminal-investigation")}); break;
      case 2:
        out.push_back({demo::kOrgCouncil, "/v1/disclosures",
                       Disclosure("safeguarding", "referral", asked, "ukgdpr-6-1-e", "social-worker", Ref(ref))});
        break;
      default:
        out.push_back({force, "/v1/decisions",
                       Disclosure("immigration-status-check", "status-check", asked, "iaa-1999-s20", "police-officer",
                                  Ref(ref))});
    }
  }
  return out;
}

class AuditTest : public ::testing::Test {
 protected:
  // Shared by every test; prepared by the first test's SetUp (base/testing/suite.h).
  static void Prepare() {
    dir_ = (fs::temp_directory_path() / ("audit_test_" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    demo::DemoOptions o;
    o.dir = dir_;
    o.subjects = 300;
    o.policy_packs = {kStrict};
    auto s = demo::CreateDemoForce(o);
    ASSERT_TRUE(s) << s.error().ToString();
    auto c = gateway::LoadConfig(s->config_path);
    ASSERT_TRUE(c) << c.error().ToString();
    c->port = 0;
    c->metrics_listen = "";
    c->access_log = false;
    c->publish_interval = std::chrono::milliseconds(20);
    // Phase 1, the strict firewall; phase 2, a restart under NPCC 2020.
    Run(*c, Requests(150, 1));
    strict_end_ = LogSize();
    c->policy_packs = {kNpcc};
    c->required.reset();
    Run(*c, Requests(150, 2));
    vkey_ = s->log_verifier_key;
    config_ = *c;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void SetUp() override { FIREBREAK_PREPARE_SUITE(Prepare); }

  static void Run(const gateway::GatewayConfig& config, const std::vector<Sent>& requests) {
    auto gw = gateway::Gateway::Start(config);
    ASSERT_TRUE(gw) << gw.error().ToString();
    for (const Sent& r : requests) {
      auto reply = Call(dir_, (*gw)->port(), "POST", r.endpoint, r.body, r.org);
      ASSERT_TRUE(reply.status == 200 || reply.status == 403 || reply.status == 404) << reply.status << " " << reply.body;
      if (reply.status == 404) ++not_found_;
    }
    (*gw)->Stop();
  }

  static uint64_t LogSize() {
    auto storage = ledger::PosixStorage::OpenReadOnly(dir_ + "/log");
    ledger::LogReader reader(*storage, std::nullopt);
    auto snap = reader.Latest();
    return snap ? snap->checkpoint.size : 0;
  }

  static AuditOptions Options(const std::string& log_dir, const std::string& vkey) {
    AuditOptions o;
    o.log_dir = log_dir;
    auto key = ledger::NoteVerifier::FromKeyText(vkey);
    EXPECT_TRUE(key) << key.error().ToString();
    if (key) o.log_key = *key;
    auto audit_key = entry::ReadAuditKey(dir_ + "/keys/audit.key");
    EXPECT_TRUE(audit_key) << audit_key.error().ToString();
    if (audit_key) o.keys = entry::Keyring({*audit_key});
    o.packs_dir = kPacks;
    return o;
  }

  static inline std::string dir_, vkey_;
  static inline gateway::GatewayConfig config_;
  static inline uint64_t strict_end_ = 0, not_found_ = 0;
};

std::multiset<std::pair<uint64_t, std::string>> Kinds(const AuditReport& r) {
  std::multiset<std::pair<uint64_t, std::string>> out;
  for (const Finding& f : r.findings) out.emplace(f.index.value_or(~0ull), f.kind);
  return out;
}

TEST_F(AuditTest, CleanLogHasNoFindings) {
  auto r = RunAudit(Options(dir_ + "/log", vkey_));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->findings.empty()) << r->Summary();
  EXPECT_TRUE(r->log_verified);
  EXPECT_EQ(r->entries, r->checkpoint.size);
  EXPECT_EQ(r->policy_changes, 2u);  // the two starts
  EXPECT_EQ(r->decisions, r->entries - 2);
  EXPECT_GT(r->replayed, 250u) << r->Summary();
  // NO-SUCH-PERSON and random references past the population (outward ones
  // are refused like any other refusal, holder ones are 404).
  EXPECT_GE(r->unresolved, not_found_ + 1);
  EXPECT_GE(not_found_, 2u);
  uint64_t counted = 0;
  for (const auto& [key, n] : r->counts) {
    if (std::get<4>(key) == "A1_no_firewall_purpose_for_protected") counted += n;
  }
  EXPECT_GT(counted, 0u) << "the strict firewall's A1 refused nothing";
  json::object j = r->ToJson();
  EXPECT_EQ(j.at("findings").as_array().size(), 0u);
  EXPECT_NE(r->Summary().find("No findings"), std::string::npos);
}

TEST_F(AuditTest, BaselineGuaranteesCatchTheWeakerPack) {
  // The force promised the strict firewall; phase 2 ran NPCC 2020, which
  // lets Immigration Enforcement locate some victims. Each such permit
  // breaks a strict-firewall guarantee; nothing decided under the strict
  // pack does.
  AuditOptions o = Options(dir_ + "/log", vkey_);
  o.baseline_packs = {kStrict};
  auto r = RunAudit(o);
  ASSERT_TRUE(r) << r.error().ToString();
  size_t violations = 0;
  for (const Finding& f : r->findings) {
    EXPECT_EQ(f.kind, finding::kGuaranteeViolated) << f.sentence;
    ASSERT_TRUE(f.index);
    EXPECT_GE(*f.index, strict_end_) << f.sentence;
    EXPECT_NE(f.sentence.find("permitted"), std::string::npos) << f.sentence;
    ++violations;
  }
  EXPECT_GT(violations, 0u) << r->Summary();
}

// Copies the log's entries into a new log, changing some: what a holder
// that rewrites, forges or replays entries would publish.
struct Planted {
  std::string dir, vkey;
  std::multiset<std::pair<uint64_t, std::string>> expected;
};

Planted Plant(const std::string& from, const std::string& to, uint64_t strict_end) {
  Planted p;
  p.dir = to;
  fs::remove_all(to);
  EXPECT_TRUE(ledger::PosixStorage::Create(to));
  auto signer = ledger::NoteSigner::Generate("firebreak.example/planted");
  EXPECT_TRUE(signer);
  p.vkey = signer->VerifierKeyText();
  auto storage = ledger::PosixStorage::Open(to);
  EXPECT_TRUE(storage);
  EXPECT_TRUE(ledger::Appender::InitLog(**storage, *signer));
  auto appender = ledger::Appender::Open(**storage, *signer);
  EXPECT_TRUE(appender) << appender.error().ToString();

  auto src = ledger::PosixStorage::OpenReadOnly(from);
  ledger::LogReader reader(*src, std::nullopt);
  auto snap = reader.Latest();
  EXPECT_TRUE(snap);
  std::vector<std::string> entries;
  EXPECT_TRUE(reader.ForEachEntry(*snap, 0, strict_end, [&](uint64_t, std::string_view e) {
    entries.emplace_back(e);
    return Ok();
  }));
  // Find an outward refusal, and three other outward decisions.
  std::vector<size_t> refusals, outward;
  for (size_t i = 0; i < entries.size(); ++i) {
    json::object e = json::parse(entries[i]).as_object();
    if (e.at("kind") != "decision" || e.at("endpoint") != "disclosures") continue;
    (e.at("decision") == "deny" ? refusals : outward).push_back(i);
  }
  EXPECT_GE(refusals.size(), 4u);
  // 1. A refusal rewritten as a permit of everything asked.
  {
    json::object e = json::parse(entries[refusals[0]]).as_object();
    e["decision"] = "permit";
    e["disclosed"] = e.at("asked");
    entries[refusals[0]] = json::serialize(e);
    p.expected.emplace(refusals[0], finding::kDecisionMismatch);
  }
  // 2. A sealed part altered.
  {
    json::object e = json::parse(entries[refusals[1]]).as_object();
    std::string sealed(e.at("sealed").as_string());
    sealed[20] = sealed[20] == 'A' ? 'B' : 'A';
    e["sealed"] = sealed;
    entries[refusals[1]] = json::serialize(e);
    p.expected.emplace(refusals[1], finding::kSealedPartDoesNotOpen);
  }
  // 3. A decision under a policy no one published (nor logged).
  {
    json::object e = json::parse(entries[refusals[2]]).as_object();
    e["policy_hash"] = "sha256:" + std::string(64, '0');
    entries[refusals[2]] = json::serialize(e);
    p.expected.emplace(refusals[2], finding::kUnknownPolicyHash);
    p.expected.emplace(refusals[2], finding::kUnloggedPolicy);
  }
  // 4. A decision logged twice.
  entries.push_back(entries[refusals[3]]);
  p.expected.emplace(entries.size() - 1, finding::kDuplicate);
  // 5. A delivery entry withdrawing a refusal (no disclosure to withdraw).
  {
    json::object first = json::parse(entries[refusals[3]]).as_object();
    json::object d{{"v", 3},
                   {"kind", "delivery"},
                   {"time", first.at("time")},
                   {"request_id", std::string(32, 'd')},
                   {"refers_to", first.at("request_id")},
                   {"refers_to_index", refusals[3]},
                   {"delivered", false},
                   {"reason", "planted"}};
    entries.push_back(json::serialize(d));
    p.expected.emplace(entries.size() - 1, finding::kBadDelivery);
  }
  for (const std::string& e : entries) EXPECT_TRUE((*appender)->Add(e));
  EXPECT_TRUE((*appender)->Publish());
  EXPECT_TRUE((*appender)->Close());
  return p;
}

TEST_F(AuditTest, FindsEveryPlantedFault) {
  Planted p = Plant(dir_ + "/log", dir_ + "/planted", strict_end_);
  auto r = RunAudit(Options(p.dir, p.vkey));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->log_verified);
  EXPECT_EQ(Kinds(*r), p.expected) << r->Summary(100);
  for (const Finding& f : r->findings) EXPECT_FALSE(f.sentence.empty());
}

TEST_F(AuditTest, ATamperedCopyDoesNotVerify) {
  // Entries rewritten after the checkpoint was signed: the hashes fail.
  std::string copy = dir_ + "/copy";
  fs::remove_all(copy);
  fs::copy(dir_ + "/log", copy, fs::copy_options::recursive);
  std::string bundle = copy + "/tile/entries/000";
  if (!fs::exists(bundle)) {
    for (const auto& f : fs::directory_iterator(copy + "/tile/entries/000.p")) bundle = f.path().string();
  }
  auto bytes = ReadFile(bundle);
  ASSERT_TRUE(bytes);
  std::string b = *bytes;
  size_t at = b.find("\"deny\"");
  ASSERT_NE(at, std::string::npos);
  b.replace(at, 6, "\"nope\"");
  ASSERT_TRUE(WriteFileAtomically(bundle, b));
  auto r = RunAudit(Options(copy, vkey_));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(r->log_verified);
  ASSERT_FALSE(r->findings.empty());
  EXPECT_EQ(r->findings[0].kind, finding::kLogDoesNotVerify);
  bool mismatch = false;
  for (const Finding& f : r->findings) mismatch |= f.kind == finding::kDecisionMismatch;
  EXPECT_TRUE(mismatch) << r->Summary();
}

TEST_F(AuditTest, RequiredCosignaturesAreMissing) {
  AuditOptions o = Options(dir_ + "/log", vkey_);
  auto w = ledger::CosignatureSigner::Generate("witness.example/w1");
  ASSERT_TRUE(w);
  o.witnesses = {w->Verifier()};
  o.min_witnesses = 1;
  auto r = RunAudit(o);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->findings.size(), 1u) << r->Summary();
  EXPECT_EQ(r->findings[0].kind, finding::kTooFewCosignatures);
}

// The whole path an oversight body takes: follow the live gateway's public
// log over HTTPS (no credential) into a verified mirror, then audit the
// mirror.
TEST_F(AuditTest, MonitorTheGatewayThenAuditTheMirror) {
  const uint64_t before = LogSize();
  auto gw = gateway::Gateway::Start(config_);
  ASSERT_TRUE(gw) << gw.error().ToString();
  auto fetch = FetchFromUrl(fmt::format("https://localhost:{}/log/", (*gw)->port()), dir_ + "/pki/ca.pem");
  ASSERT_TRUE(fetch) << fetch.error().ToString();
  // This start's policy entry is durable before the gateway listens, but
  // the checkpoint that covers it is published on the next tick: wait for
  // it, or the monitor may follow the log one entry short.
  uint64_t served = 0;
  for (int i = 0; i < 500 && served <= before; ++i) {
    if (auto text = (*fetch)("checkpoint")) {
      if (auto cp = ledger::OpenCheckpoint(*text, *ledger::NoteVerifier::FromKeyText(vkey_))) served = cp->size;
    }
    if (served <= before) usleep(10'000);
  }
  ASSERT_GT(served, before) << "the gateway never published its start entry";
  MonitorOptions m;
  m.state_dir = dir_ + "/watch";
  m.log_key = *ledger::NoteVerifier::FromKeyText(vkey_);
  m.fetch = *fetch;
  auto run = RunMonitor(m);
  ASSERT_TRUE((*gw)->Stop());
  ASSERT_TRUE(run) << run.error().ToString();
  EXPECT_TRUE(run->evidence.empty()) << run->evidence[0].sentence;
  EXPECT_GT(run->new_entries, 300u);
  auto r = RunAudit(Options(m.state_dir, vkey_));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->findings.empty()) << r->Summary();
  EXPECT_EQ(r->entries, run->checkpoint.size);
  EXPECT_EQ(r->policy_changes, 3u);  // the two starts and this one
}

TEST_F(AuditTest, BadInputsAreErrors) {
  AuditOptions o = Options(dir_ + "/nowhere", vkey_);
  EXPECT_FALSE(RunAudit(o));
  o = Options(dir_ + "/log", vkey_);
  o.packs_dir = dir_ + "/no-packs";
  EXPECT_FALSE(RunAudit(o));
  o = Options(dir_ + "/log", vkey_);
  o.baseline_packs = {dir_};
  EXPECT_FALSE(RunAudit(o));
}

}  // namespace
}  // namespace firebreak::oversight
