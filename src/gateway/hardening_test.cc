// The gateway tried as an attacker would (issue 10): every side channel and
// hole found in review has a test here that failed on the code before it was
// closed. A synthetic force, the real server on 127.0.0.1, HTTPS with client
// certificates.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/base.h"
#include "base/testing/suite.h"
#include "demo/demo.h"
#include "entry/entry.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "ledger/storage.h"
#include "ledger/tiles.h"
#include "ledger/verify.h"
#include "store/store.h"

namespace firebreak::gateway {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::Client;
using testing::Disclosure;
using testing::Ref;
using testing::Reply;

const std::string kSource = FIREBREAK_SOURCE_DIR;
const std::string kBinary = std::string(FIREBREAK_BINARY_DIR) + "/src/cli/firebreak";
const std::string kStrict = kSource + "/policies/uk/strict-firewall";
constexpr auto kRelease = std::chrono::milliseconds(150);
const char* kIe = demo::kOrgImmigrationEnforcement;

// Immigration Enforcement asks for address and contact about `subject`.
std::string IeAsks(const std::string& subject, const std::string& basis = "iaa-1999-s20") {
  return Disclosure("immigration-enforcement", "disclose", {"address", "contact"}, basis,
                    "immigration-officer", subject);
}
std::string Identity(const std::string& given, const std::string& family, const std::string& dob) {
  return json::serialize(json::object{{"given_name", given}, {"family_name", family}, {"date_of_birth", dob}});
}

// A strict-firewall demo force of `subjects` in `dir`, on an ephemeral port.
Result<demo::DemoSummary> DemoForce(const std::string& dir, int64_t subjects) {
  demo::DemoOptions o;
  o.dir = dir;
  o.subjects = subjects;
  o.policy_packs = {kStrict};
  o.listen = "127.0.0.1:0";
  return demo::CreateDemoForce(o);
}

// Every outward refusal kind (issue 10 §2), and the subject with 50 cases (§3).
struct Kind {
  const char* name;
  std::string body;
};
std::vector<Kind> RefusalKinds() {
  return {
      {"protected", IeAsks(Ref("DEMO-R05"))},
      {"unknown-reference", IeAsks(Ref("NO-SUCH-REF"))},
      {"unknown-identity", IeAsks(Identity("No", "Such", "1970-01-01"))},
      {"ambiguous-identity", IeAsks(Identity("Twin", "Same", "1980-01-01"))},
      // No agreement covers this legal basis; the person has no protected role.
      {"no-agreement", IeAsks(Ref("DEMO-R16"), "dpa-2018-sch2-para4")},
      {"protected-50-cases", IeAsks(Ref("HARD-50"))},
  };
}

class Hardening : public ::testing::Test {
 protected:
  // Shared by every test; prepared by the first test's SetUp (base/testing/suite.h).
  static void Prepare() {
    dir_ = (fs::temp_directory_path() / ("hardening_test_" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    auto s = DemoForce(dir_, 200);
    ASSERT_TRUE(s) << s.error().ToString();
    for (const auto& org : s->orgs) tokens_[org.id] = org.token;
    ASSERT_NO_FATAL_FAILURE(Plant());
    auto c = LoadConfig(s->config_path);
    ASSERT_TRUE(c) << c.error().ToString();
    c->access_log = false;
    c->publish_interval = std::chrono::milliseconds(50);
    c->worker_threads = 8;
    c->refusal_release = kRelease;
    ASSERT_FALSE(c->required) << "the demo requires nothing explicitly: the policy at start is locked";
    config_ = *c;
    auto gw = Gateway::Start(config_);
    ASSERT_TRUE(gw) << gw.error().ToString();
    gw_ = std::move(*gw).release();
  }
  static void TearDownTestSuite() {
    delete gw_;
    gw_ = nullptr;
    fs::remove_all(dir_);
  }
  void SetUp() override { FIREBREAK_PREPARE_SUITE(Prepare); }

  // Two people with the same identity, and a victim in 50 domestic-abuse cases.
  static void Plant() {
    auto db = store::OpenSqliteStore(dir_ + "/store.db");
    ASSERT_TRUE(db) << db.error().ToString();
    Status st = (*db)->Bulk([&]() -> Status {
      for (const char* ref : {"HARD-TWIN-1", "HARD-TWIN-2"}) {
        store::Subject s;
        s.reference = ref;
        s.given_name = "Twin";
        s.family_name = "Same";
        s.date_of_birth = "1980-01-01";
        s.concern = "none";
        FB_ASSIGN_OR_RETURN(s.id, (*db)->AddSubject(s));
      }
      store::Subject v;
      v.reference = "HARD-50";
      v.given_name = "Many";
      v.family_name = "Cases";
      v.date_of_birth = "1985-05-05";
      v.concern = "doubts-only";
      FB_ASSIGN_OR_RETURN(int64_t id, (*db)->AddSubject(v));
      for (int i = 0; i < 50; ++i) {
        std::string case_id = "HARD-CASE-" + std::to_string(i);
        FB_RETURN_IF_ERROR((*db)->PutCase({case_id, "domestic-abuse", i % 2 ? "concluded" : "under-investigation"}));
        FB_RETURN_IF_ERROR((*db)->AddParticipant(case_id, id, "victim"));
        store::Record r;
        r.subject_id = id;
        r.kind = "victim-statement";
        r.collected_as = "victim";
        r.case_id = case_id;
        r.fields = {{"address_line", "1 Hidden Road"}, {"phone", "07700 900999"}};
        FB_RETURN_IF_ERROR((*db)->AddRecord(r).map([](int64_t) {}));
      }
      return Ok();
    });
    ASSERT_TRUE(st) << st.error().ToString();
  }

  Reply Post(const std::string& path, const std::string& body, const std::string& org) {
    return testing::Call(dir_, gw_->port(), "POST", path, body, org);
  }
  Reply Get(const std::string& path, const std::string& org) {
    return testing::Call(dir_, gw_->port(), "GET", path, "", org);
  }
  // The log entry behind a receipt.
  std::string EntryOf(const std::string& receipt) {
    Reply r = Get("/v1/receipts/" + receipt + "?format=json", kIe);
    EXPECT_EQ(r.status, 200) << r.body;
    json::object o = r.Json();
    return o.contains("entry") ? std::string(o.at("entry").as_string()) : "";
  }
  // Every entry of the log, opened with the demo's audit key (via the CLI,
  // as an oversight body would), once the checkpoint covers `at_least`.
  std::vector<json::object> LogOpen(size_t at_least) {
    std::vector<json::object> out;
    for (int attempt = 0; attempt < 100; ++attempt) {
      out.clear();
      std::string cmd = kBinary + " log open --dir " + dir_ + "/log --audit-key " + dir_ + "/keys/audit.key";
      FILE* p = popen(cmd.c_str(), "r");
      if (!p) break;
      char buf[1 << 16];
      while (fgets(buf, sizeof buf, p)) {
        json::value v = json::parse(buf);
        EXPECT_FALSE(v.as_object().contains("error")) << buf;
        out.push_back(v.as_object().at("entry").as_object());
      }
      pclose(p);
      if (out.size() >= at_least) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return out;
  }

  // Entries sequenced so far (the holder's metric): what a later LogOpen
  // must reach past, whatever was published when it was read.
  size_t Sequenced() {
    Reply m = testing::PlainGet(gw_->metrics_port(), "/metrics");
    size_t at = m.body.find("\nfirebreak_log_sequenced_size ");
    EXPECT_NE(at, std::string::npos);
    return at == std::string::npos ? 0 : std::stoull(m.body.substr(at + 30));
  }

  static std::string dir_;
  static GatewayConfig config_;
  static Gateway* gw_;
  static std::map<std::string, std::string> tokens_;
};

std::string Hardening::dir_;
GatewayConfig Hardening::config_;
Gateway* Hardening::gw_ = nullptr;
std::map<std::string, std::string> Hardening::tokens_;

// §1: /metrics counted every rule of every outward refusal, for anyone.
TEST_F(Hardening, MetricsAreForTheHolderOnly) {
  ASSERT_EQ(Post("/v1/disclosures", IeAsks(Ref("DEMO-R05")), kIe).status, 403);
  for (const char* path : {"/metrics", "/metrics/", "/metrics?x=1"}) {
    SCOPED_TRACE(path);
    Reply anonymous = Get(path, "");
    EXPECT_TRUE(anonymous.status == 401 || anonymous.status == 404) << anonymous.status;
    Reply requester = Get(path, kIe);
    EXPECT_TRUE(requester.status == 403 || requester.status == 404) << requester.status;
    Reply holder_system = Get(path, demo::kOrgRecordsSystem);
    EXPECT_TRUE(holder_system.status == 403 || holder_system.status == 404) << holder_system.status;
    for (const char* org : {kIe, demo::kOrgDpo}) {
      Reply token = testing::Call(dir_, gw_->port(), "GET", path, "", "", tokens_[org]);
      EXPECT_TRUE(token.status == 403 || token.status == 404) << org << " " << token.status;
    }
    for (const Reply* r : {&anonymous, &requester, &holder_system}) {
      EXPECT_EQ(r->body.find("firebreak_"), std::string::npos);
    }
  }
  // The holder's scrape: the DPO's certificate, or the metrics listener.
  const char* kSeries[] = {"firebreak_http_requests_total", "firebreak_decisions_total",
                           "firebreak_decision_rules_total", "firebreak_policy_reloads_total",
                           "firebreak_request_seconds_bucket", "firebreak_log_sequence_seconds_bucket",
                           "firebreak_log_publish_seconds_bucket", "firebreak_log_sequenced_size",
                           "firebreak_log_published_size", "firebreak_log_publish_retries_total",
                           "firebreak_log_failed", "firebreak_policy_info"};
  Reply dpo = Get("/metrics", demo::kOrgDpo);
  ASSERT_EQ(dpo.status, 200) << dpo.body;
  ASSERT_NE(gw_->metrics_port(), 0);
  Reply scrape = testing::PlainGet(gw_->metrics_port(), "/metrics");
  ASSERT_EQ(scrape.status, 200);
  for (const char* series : kSeries) {
    EXPECT_NE(dpo.body.find(series), std::string::npos) << series;
    EXPECT_NE(scrape.body.find(series), std::string::npos) << series;
  }
  EXPECT_NE(scrape.body.find("A1_no_firewall_purpose_for_protected"), std::string::npos);
  // The metrics listener serves nothing else.
  EXPECT_EQ(testing::PlainGet(gw_->metrics_port(), "/v1/disclosures").status, 404);
  EXPECT_EQ(testing::PlainGet(gw_->metrics_port(), "/log/checkpoint").status, 404);
}

// §2 and §3: every outward refusal is released at the same deadline, has the
// same status and body shape, and its log entry the same size.
TEST_F(Hardening, EveryOutwardRefusalLooksTheSameIncludingItsTimeAndItsEntry) {
  Client ie(dir_, gw_->port(), kIe);
  ASSERT_EQ(ie.error(), "");
  std::string shape;
  size_t entry_size = 0, sealed_size = 0;
  for (int round = 0; round < 3; ++round) {
    for (const Kind& k : RefusalKinds()) {
      SCOPED_TRACE(k.name);
      Reply r = ie.Post("/v1/disclosures", k.body);
      ASSERT_EQ(r.status, 403) << r.body;
      // Released at the deadline, never before it (a lower bound: cannot flake).
      EXPECT_GE(r.elapsed, kRelease);
      json::object o = r.Json();
      std::string receipt(o.at("receipt").as_string());
      o.erase("receipt");
      if (shape.empty()) shape = json::serialize(o);
      EXPECT_EQ(json::serialize(o), shape);
      if (round > 0) continue;
      std::string entry = EntryOf(receipt);
      json::object e = json::parse(entry).as_object();
      std::string sealed(e.at("sealed").as_string());
      if (!sealed_size) sealed_size = sealed.size();
      EXPECT_EQ(sealed.size(), sealed_size) << "the sealed part's size tells the subject apart";
      // The clear part differs only in what the requester sent (the legal
      // basis) and the time's and receipt's digits.
      size_t clear = entry.size() - e.at("legal_basis").as_string().size();
      if (!entry_size) entry_size = clear;
      EXPECT_NEAR(double(clear), double(entry_size), 2.0);
    }
  }
  // The 50-case subject's sealed part lists what fits and counts the rest.
  std::vector<json::object> entries = LogOpen(1);
  bool found = false;
  for (const json::object& e : entries) {
    if (!e.contains("opened")) continue;
    const json::object& opened = e.at("opened").as_object();
    if (!opened.contains("cases_not_listed")) continue;
    found = true;
    EXPECT_EQ(int64_t(opened.at("cases").as_array().size()) + opened.at("cases_not_listed").as_int64(), 50);
  }
  EXPECT_TRUE(found);
  // A permit is not held back.
  Reply permit = ie.Post("/v1/disclosures",
                         Disclosure("immigration-enforcement", "disclose", {"address"}, "iaa-1999-s20",
                                    "immigration-officer", Ref("DEMO-R16")));
  EXPECT_EQ(permit.status, 200) << permit.body;
}

// §5: chunk extensions and trailers streamed without limit before any
// credential was checked.
TEST_F(Hardening, ChunkedBodiesAreRefusedBeforeAnyIsRead) {
  std::string head = "POST /v1/disclosures HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n";
  std::string extension = head + "2;" + std::string(200000, 'x') + "\r\n{}\r\n0\r\n\r\n";
  std::string trailer = head + "2\r\n{}\r\n0\r\nX-Filler: " + std::string(200000, 'y') + "\r\n\r\n";
  for (const std::string* raw : {&extension, &trailer}) {
    Client anonymous(dir_, gw_->port(), "");
    ASSERT_EQ(anonymous.error(), "");
    Reply r = anonymous.Raw(*raw);
    EXPECT_EQ(r.status, 411) << r.body.substr(0, 200);
    EXPECT_NE(r.body.find("Content-Length"), std::string::npos);
  }
  // A normal body still works.
  EXPECT_EQ(Post("/v1/disclosures", IeAsks(Ref("DEMO-R05")), kIe).status, 403);
}

// §6: one admin call replaced the firewall with `permit when true`.
TEST_F(Hardening, NoReloadCanSwitchTheFirewallOff) {
  fs::path tmp = fs::path(dir_) / "policies";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  fs::copy(kSource + "/policies/uk", tmp / "uk", fs::copy_options::recursive);
  fs::create_directories(tmp / "uk/open");
  std::ofstream(tmp / "uk/open/pack.fbp")
      << "pack open {\n  layer national\n  title \"everything\"\n  import \"../schema\"\n}\n";
  std::ofstream(tmp / "uk/open/all.fbp")
      << "permit everything {\n  when true\n  grant all\n  because \"no firewall\"\n}\n";
  auto reload = [&](const std::string& pack, const std::string& org, const std::string& token = "") {
    json::object body{{"packs", json::array{json::string(pack)}}};
    return testing::Call(dir_, gw_->port(), "POST", "/admin/reload", json::serialize(body), org, token);
  };
  std::string victim = IeAsks(Ref("DEMO-R05"));
  ASSERT_EQ(Post("/v1/disclosures", victim, kIe).status, 403);
  size_t before = Sequenced();

  // A bearer token never carries the admin scope.
  Reply by_token = reload((tmp / "uk/strict-firewall").string(), "", tokens_[demo::kOrgDpo]);
  EXPECT_EQ(by_token.status, 403) << by_token.body;
  // `permit when true`, and the shipped national guidance without the firewall.
  Reply open = reload((tmp / "uk/open").string(), demo::kOrgDpo);
  EXPECT_EQ(open.status, 422) << open.body;
  EXPECT_NE(open.body.find("A1_no_firewall_purpose_for_protected"), std::string::npos) << open.body;
  Reply npcc = reload(kSource + "/policies/uk/npcc-2020", demo::kOrgDpo);
  EXPECT_EQ(npcc.status, 422) << npcc.body;
  // The firewall kept word for word, but a holder layer relabels
  // enforcement as safeguarding for one Home Office unit (found in review).
  fs::create_directories(tmp / "uk/relabel");
  std::ofstream(tmp / "uk/relabel/pack.fbp")
      << "pack relabel {\n  layer holder\n  title \"relabel\"\n  import \"../strict-firewall\"\n}\n";
  std::ofstream(tmp / "uk/relabel/rules.fbp")
      << "normalise N9 {\n  from [immigration-enforcement]\n  to safeguarding\n"
         "  when requester.org_type == home-office-visas\n  because \"x\"\n}\n"
         "permit P9 {\n  when requester.org_type == home-office-visas and purpose == safeguarding "
         "and subject is known\n  grant [address, contact, identity]\n  because \"x\"\n}\n";
  Reply relabel = reload((tmp / "uk/relabel").string(), demo::kOrgDpo);
  EXPECT_EQ(relabel.status, 422) << relabel.body;
  EXPECT_NE(relabel.body.find("N9"), std::string::npos) << relabel.body;
  // The firewall keeps refusing.
  EXPECT_EQ(Post("/v1/disclosures", victim, kIe).status, 403);
  EXPECT_FALSE(gw_->Reload({(tmp / "uk/open").string()}));
  EXPECT_EQ(Post("/v1/disclosures", victim, kIe).status, 403);
  // An allowed reload (the same pack) is accepted; every reload is in the log.
  Reply same = reload(kStrict, demo::kOrgDpo);
  EXPECT_EQ(same.status, 200) << same.body;
  std::vector<json::object> entries = LogOpen(before + 7);
  std::vector<json::object> policy;
  for (size_t i = before; i < entries.size(); ++i) {
    if (entries[i].at("kind") == "policy") policy.push_back(entries[i]);
  }
  ASSERT_EQ(policy.size(), 5u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(policy[i].at("accepted"), false) << json::serialize(policy[i]);
  EXPECT_EQ(policy[0].at("requester").at("org"), demo::kOrgDpo);
  EXPECT_TRUE(policy[0].contains("reason"));
  EXPECT_EQ(policy[4].at("accepted"), true);
  EXPECT_EQ(policy[4].at("requester").at("org"), demo::kOrgDpo);
  EXPECT_EQ(policy[4].at("pins_checked").as_array().size(), 3u);
  EXPECT_FALSE(policy[4].at("guarantees_proved").as_array().empty());
  EXPECT_EQ(policy[4].at("old_policy_hash"), policy[4].at("policy_hash"));
}

// A refused reload's reason is public (the log); a file given to a reload may
// hold anything, so no source line or quoted text reaches the log.
TEST_F(Hardening, RefusedReloadReasonsQuoteNoSource) {
  fs::path tmp = fs::path(dir_) / "secret-policies/uk/secret";
  fs::remove_all(fs::path(dir_) / "secret-policies");
  fs::create_directories(tmp);
  fs::copy(kSource + "/policies/uk/schema", tmp.parent_path() / "schema", fs::copy_options::recursive);
  std::ofstream(tmp / "pack.fbp") << "pack secret {\n  layer national\n  title \"x\"\n  import \"../schema\"\n}\n"
                                  << "permit p {\n  when purpose == SECRET-TOKEN-1234\n  grant all\n"
                                     "  because \"SECRET-TOKEN-5678\"\n}\n";
  json::object body{{"packs", json::array{json::string(tmp.string())}}};
  size_t before = Sequenced();
  Reply r = Post("/admin/reload", json::serialize(body), demo::kOrgDpo);
  EXPECT_EQ(r.status, 422) << r.body;
  std::vector<json::object> entries = LogOpen(before + 1);
  ASSERT_GT(entries.size(), before);
  std::string last = json::serialize(entries.back());
  EXPECT_EQ(entries.back().at("kind"), "policy");
  EXPECT_EQ(last.find("SECRET-TOKEN"), std::string::npos) << last;
  EXPECT_NE(last.find("pack.fbp:"), std::string::npos) << last;
}

// The holder's own decisions are always about a person it holds: their
// outcome is sealed, or the public tiles would say who is protected.
TEST_F(Hardening, HolderDecisionOutcomesAreSealed) {
  Reply r = Post("/v1/decisions",
                 Disclosure("immigration-status-check", "status-check", {"identity", "nationality"},
                            "iaa-1999-s20", "police-officer", Ref("DEMO-R01")),
                 demo::kOrgRecordsSystem);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string receipt(r.Json().at("receipt").as_string());
  Reply proof = Get("/v1/receipts/" + receipt + "?format=json", demo::kOrgRecordsSystem);
  ASSERT_EQ(proof.status, 200) << proof.body;
  json::object e = json::parse(proof.Json().at("entry").as_string()).as_object();
  EXPECT_FALSE(e.contains("decision")) << json::serialize(e);
  EXPECT_FALSE(e.contains("disclosed")) << json::serialize(e);
  auto key = entry::ReadAuditKey(dir_ + "/keys/audit.key");
  ASSERT_TRUE(key);
  auto opened = entry::Open(entry::CanonicalJson(e), entry::Keyring({*key}));
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->at("opened").at("decision"), "deny");
}

// The deadline holds the refusal's log entry too: before it, nothing in the
// log (a receipt's index, the next checkpoint) shows the decision was made.
TEST_F(Hardening, RefusalEntriesAreAppendedAtTheDeadline) {
  uint64_t before = Sequenced();
  auto sent = std::chrono::steady_clock::now();
  std::thread ask([&] { EXPECT_EQ(Post("/v1/disclosures", IeAsks(Ref("DEMO-R05")), kIe).status, 403); });
  std::this_thread::sleep_until(sent + kRelease / 3);
  uint64_t during = Sequenced();
  // Only meaningful if the check ran before the deadline (it cannot have run
  // after it too early: the deadline counts from the server's arrival).
  if (std::chrono::steady_clock::now() < sent + kRelease) {
    EXPECT_EQ(during, before);
  }
  ask.join();
  EXPECT_EQ(Sequenced(), before + 1);
}

// Anonymous clients may hold at most half the connection slots, so they
// cannot keep the holder's own systems (or anyone with a certificate) out.
TEST_F(Hardening, AnonymousConnectionsHoldAtMostHalfTheSlots) {
  std::string dir = dir_ + "-slots";
  fs::remove_all(dir);
  ASSERT_TRUE(DemoForce(dir, 20));
  auto c = LoadConfig(dir + "/firebreak.json");
  ASSERT_TRUE(c);
  c->access_log = false;
  c->max_connections = 4;
  auto gw = Gateway::Start(*c);
  ASSERT_TRUE(gw) << gw.error().ToString();
  uint16_t port = (*gw)->port();
  Client a(dir, port, ""), b(dir, port, "");
  ASSERT_EQ(a.Get("/healthz").status, 200);
  ASSERT_EQ(b.Get("/healthz").status, 200);
  // A third anonymous connection is closed after its handshake.
  Client third(dir, port, "");
  EXPECT_LT(third.Get("/healthz").status, 0);
  // A certificate still gets in, twice.
  Client ie(dir, port, kIe), holder(dir, port, demo::kOrgRecordsSystem);
  EXPECT_EQ(ie.Get("/healthz").status, 200);
  EXPECT_EQ(holder.Get("/healthz").status, 200);
  ASSERT_TRUE((*gw)->Stop());
  fs::remove_all(dir);
}

TEST_F(Hardening, MetricsListenerStaysInside) {
  GatewayConfig c = config_;
  c.port = 0;
  c.metrics_listen = "0.0.0.0:0";
  auto gw = Gateway::Start(c);
  ASSERT_FALSE(gw);
  EXPECT_NE(gw.error().message().find("loopback"), std::string::npos) << gw.error().message();
}

// §7: the smaller findings.
TEST_F(Hardening, StoreAndKeysArePrivateAndStartRefusesOtherwise) {
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/store.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u) << std::oct << st.st_mode;
  std::string copy = dir_ + "-perm";
  fs::remove_all(copy);
  fs::create_directories(copy);
  fs::copy_file(dir_ + "/keys/audit.key", copy + "/audit.key");
  fs::permissions(copy + "/audit.key", fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  GatewayConfig c = config_;
  c.audit_key_path = copy + "/audit.key";
  c.port = 0;
  auto gw = Gateway::Start(c);
  ASSERT_FALSE(gw);
  EXPECT_NE(gw.error().message().find(copy + "/audit.key"), std::string::npos) << gw.error().message();
  EXPECT_NE(gw.error().message().find("chmod 600"), std::string::npos);
  fs::remove_all(copy);
}

TEST_F(Hardening, Tls12OnlyWithAeadSuites) {
  testing::ClientOptions cbc;
  cbc.tls12_ciphers = "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:AES128-SHA:AES256-SHA256";
  Client weak(dir_, gw_->port(), kIe, cbc);
  EXPECT_NE(weak.error(), "") << "a CBC suite was accepted";
  testing::ClientOptions gcm;
  gcm.tls12_ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256";
  Client strong(dir_, gw_->port(), kIe, gcm);
  EXPECT_EQ(strong.error(), "");
  EXPECT_EQ(strong.Get("/healthz").status, 200);
}

TEST_F(Hardening, CalendarInvalidDatesAreBadInput) {
  for (const char* date : {"1990-13-45", "1990-02-30", "1900-02-29", "2023-04-31", "1990-00-10"}) {
    Reply r = Post("/v1/disclosures", IeAsks(Identity("No", "Such", date)), kIe);
    EXPECT_EQ(r.status, 400) << date << " " << r.body;
    EXPECT_NE(r.body.find("date_of_birth"), std::string::npos);
  }
  // A real leap day is a date (and refused as an unknown person).
  EXPECT_EQ(Post("/v1/disclosures", IeAsks(Identity("No", "Such", "2000-02-29")), kIe).status, 403);
}

// §4: a descriptor flood made accept() spin and latched the log publisher,
// so every request failed until restart while /readyz said all was well.
TEST(HardeningProcess, DescriptorFloodEndsWhenTheFloodEnds) {
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  std::string dir = (fs::temp_directory_path() / ("hardening_fd_" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  ASSERT_TRUE(DemoForce(dir, 100));
  std::string port_file = dir + "/port";
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit rl{256, 256};
    setrlimit(RLIMIT_NOFILE, &rl);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(kBinary.c_str(), kBinary.c_str(), "serve", "--config", (dir + "/firebreak.json").c_str(),
          "--port-file", port_file.c_str(), "--no-access-log", nullptr);
    _exit(127);
  }
  for (int i = 0; i < 500 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto text = ReadFile(port_file);
  ASSERT_TRUE(text);
  uint16_t port = uint16_t(std::stoi(*text));
  // One keep-alive connection before the flood.
  Client ie(dir, port, kIe);
  ASSERT_EQ(ie.error(), "");
  std::string body = Disclosure("immigration-enforcement", "disclose", {"address"}, "iaa-1999-s20",
                                "immigration-officer", Ref("DEMO-R16"));
  ASSERT_EQ(ie.Post("/v1/disclosures", body).status, 200);
  // The flood: more plain TCP connections than the process has descriptors.
  std::vector<int> flood;
  for (int i = 0; i < 400; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      break;
    }
    flood.push_back(fd);
  }
  EXPECT_GT(flood.size(), 256u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // During the flood the log still publishes: decisions on the open
  // connection succeed and their receipts (which wait for a checkpoint) too.
  std::string receipt;
  for (int i = 0; i < 5; ++i) {
    Reply r = ie.Post("/v1/disclosures", body);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status == 200) receipt = std::string(r.Json().at("receipt").as_string());
  }
  EXPECT_EQ(ie.Get("/v1/receipts/" + receipt).status, 200);
  for (int fd : flood) close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // After it, new connections are served and the gateway is ready.
  Reply ready = testing::Call(dir, port, "GET", "/readyz", "", "");
  EXPECT_EQ(ready.status, 200) << ready.body;
  for (int i = 0; i < 5; ++i) {
    Reply r = testing::Call(dir, port, "POST", "/v1/disclosures", body, kIe);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  auto vkey = ReadFile(dir + "/keys/log.vkey");
  ASSERT_TRUE(vkey);
  std::string vk = *vkey;
  while (!vk.empty() && vk.back() == '\n') vk.pop_back();
  auto verifier = ledger::NoteVerifier::FromKeyText(vk);
  ASSERT_TRUE(verifier);
  auto storage = ledger::PosixStorage::OpenReadOnly(dir + "/log");
  ledger::FileReader read = [&](const std::string& p) { return storage->ReadFile(p); };
  auto report = ledger::VerifyLog(read, *verifier, "", nullptr);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_GE(report->entries, 12u);
  fs::remove_all(dir);
}

// §7: one long-lived audit key sealed every entry; now each entry has its
// own derived key, names its audit key, and a rotated key still opens the
// entries it sealed.
TEST(HardeningProcess, AuditKeysRotate) {
  std::string dir = (fs::temp_directory_path() / ("hardening_keys_" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  auto s = DemoForce(dir, 50);
  ASSERT_TRUE(s);
  auto c = LoadConfig(s->config_path);
  ASSERT_TRUE(c);
  c->access_log = false;
  c->refusal_release = std::chrono::milliseconds(0);
  auto decide = [&](const GatewayConfig& config) {
    auto gw = Gateway::Start(config);
    ASSERT_TRUE(gw) << gw.error().ToString();
    EXPECT_EQ(testing::Call(dir, (*gw)->port(), "POST", "/v1/disclosures", IeAsks(Ref("DEMO-R05")), kIe).status, 403);
    ASSERT_TRUE((*gw)->Stop());
  };
  decide(*c);
  auto fresh = RandomBytes(32);
  ASSERT_TRUE(fresh);
  ASSERT_TRUE(WriteFileAtomically(dir + "/keys/audit-2.key", HexEncode(*fresh) + "\n", 0600));
  GatewayConfig rotated = *c;
  rotated.audit_key_path = dir + "/keys/audit-2.key";
  rotated.old_audit_key_paths = {c->audit_key_path};
  decide(rotated);
  auto old_key = entry::ReadAuditKey(c->audit_key_path);
  auto new_key = entry::ReadAuditKey(rotated.audit_key_path);
  ASSERT_TRUE(old_key && new_key);
  auto storage = ledger::PosixStorage::OpenReadOnly(dir + "/log");
  auto cp = storage->ReadFile("checkpoint");
  ASSERT_TRUE(cp);
  auto verifier = ledger::NoteVerifier::FromKeyText(s->log_verifier_key);
  ASSERT_TRUE(verifier);
  auto checkpoint = ledger::OpenCheckpoint(*cp, *verifier);
  ASSERT_TRUE(checkpoint);
  auto bundle = storage->ReadFile(ledger::EntryBundlePath(0, checkpoint->size));
  ASSERT_TRUE(bundle);
  auto entries = ledger::ParseBundle(*bundle);
  ASSERT_TRUE(entries);
  std::set<std::string> key_ids;
  for (std::string_view text : *entries) {
    auto both = entry::Open(text, entry::Keyring({*new_key, *old_key}));
    ASSERT_TRUE(both) << both.error().ToString();
    if ((*both).at("kind") != "decision") continue;
    key_ids.insert(std::string((*both).at("audit_key").as_string()));
    auto only_new = entry::Open(text, entry::Keyring({*new_key}));
    if ((*both).at("audit_key").as_string() == old_key->id) {
      ASSERT_FALSE(only_new);
      EXPECT_NE(only_new.error().message().find(old_key->id), std::string::npos);
    } else {
      EXPECT_TRUE(only_new);
    }
  }
  EXPECT_EQ(key_ids, (std::set<std::string>{old_key->id, new_key->id}));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace firebreak::gateway
