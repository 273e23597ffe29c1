// End to end: the safe reporting pathway and the data-subject tracker, on a
// synthetic force, over HTTPS with client certificates (an intake
// organisation, an advocate, Immigration Enforcement, the force's own
// system and its DPO).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "base/base.h"
#include "base/testing/suite.h"
#include "demo/demo.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "policy/policy.h"
#include "store/store.h"

namespace firebreak::gateway {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kSource = FIREBREAK_SOURCE_DIR;
const std::string kStrict = kSource + "/policies/uk/strict-firewall";

using testing::Client;
using testing::Disclosure;
using testing::Reply;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Letters only (identity matching folds anything else away).
std::string UniqueName(const std::string& base) {
  static int n = 0;
  std::string out = base;
  int v = ++n * 7919 + int(getpid() % 1000);
  for (int i = 0; i < 6; ++i, v /= 26) out += char('a' + v % 26);
  return out;
}

class ReportingTest : public ::testing::Test {
 protected:
  static void Prepare() {
    dir_ = (fs::temp_directory_path() / ("reporting_test_" + std::to_string(getpid()))).string();
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
    c->worker_threads = 8;
    c->verify_policy = false;
    c->max_hold_days = 30;
    config_ = *c;
    auto key = ReadAll(fs::path(dir_) / "keys/log.vkey");
    while (!key.empty() && key.back() == '\n') key.pop_back();
    vkey_ = key;
    Start({kStrict});
  }
  static void Start(const std::vector<std::string>& packs) {
    delete gw_;
    gw_ = nullptr;
    GatewayConfig c = config_;
    c.policy_packs = packs;
    auto gw = Gateway::Start(c);
    ASSERT_TRUE(gw) << packs[0] << ": " << gw.error().ToString();
    gw_ = std::move(*gw).release();
    port_ = gw_->port();
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
                  const std::string& body = "", const std::string& token = "") {
    Client c(dir_, port_, org);
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Firebreak-Tracker-Token", token);
    return c.Request(method, target, body, headers);
  }

  struct Person {
    std::string given, family, dob, token, case_reference;
    uint64_t report_index = 0;
    std::string Identity() const {
      return json::serialize(json::object{{"given_name", given}, {"family_name", family}, {"date_of_birth", dob}});
    }
  };
  static Person Report(const std::string& role = "victim") {
    Person p{UniqueName("Amara"), UniqueName("Okonkwo"), "1991-03-14", "", "", 0};
    json::object body{{"role", role},
                      {"offence", "domestic-abuse"},
                      {"person", {{"given_name", p.given}, {"family_name", p.family}, {"date_of_birth", p.dob},
                                  {"phone", "07700 900123"}}},
                      {"incident", {{"narrative", "He hit me on Saturday."}}}};
    Reply r = As(demo::kOrgVictimService, "POST", "/v1/reports", json::serialize(body));
    EXPECT_EQ(r.status, 201) << r.body;
    json::object o = r.Json();
    if (o.contains("receipt_token")) p.token = std::string(o.at("receipt_token").as_string());
    if (o.contains("case_reference")) p.case_reference = std::string(o.at("case_reference").as_string());
    if (o.contains("log_index")) p.report_index = o.at("log_index").to_number<uint64_t>();
    return p;
  }
  // Immigration Enforcement asks for her address; the force's officer runs
  // an immigration status check. Returns the outward status and the
  // holder's decision.
  static std::pair<int, std::string> AskAbout(const Person& p) {
    Reply ie = As(demo::kOrgImmigrationEnforcement, "POST", "/v1/disclosures",
                  Disclosure("immigration-enforcement", "disclose", {"identity", "address"}, "iaa-1999-s20",
                             "immigration-officer", p.Identity()));
    Reply officer = As(demo::kOrgRecordsSystem, "POST", "/v1/decisions",
                       Disclosure("immigration-status-check", "status-check", {"identity", "nationality"},
                                  "iaa-1999-s20", "police-officer", p.Identity()));
    json::object o = officer.Json();
    return {ie.status, o.contains("decision") ? std::string(o.at("decision").as_string()) : officer.body};
  }
  static Reply Tracker(const std::string& token, const std::string& query = "", const std::string& org = "") {
    return As(org, "GET", "/v1/tracker" + query, "", token);
  }
  // Every receipt of the tracker answer verifies against the log's key and
  // carries exactly its entry.
  static void ExpectReceiptsVerify(const json::object& answer) {
    auto key = ledger::NoteVerifier::FromKeyText(vkey_);
    ASSERT_TRUE(key) << key.error().ToString();
    EXPECT_EQ(answer.at("log_key").as_string(), vkey_);
    for (const json::value& e : answer.at("entries").as_array()) {
      auto receipt = ledger::ParseReceipt(e.at("receipt").as_string());
      ASSERT_TRUE(receipt) << receipt.error().ToString();
      EXPECT_EQ(receipt->index, e.at("log_index").to_number<uint64_t>());
      auto ok = ledger::VerifyReceipt(*receipt, receipt->extra, *key, {}, 0);
      EXPECT_TRUE(ok) << "entry " << receipt->index << " receipt does not verify";
    }
  }
  static std::vector<json::object> Lines(const Reply& r) {
    std::vector<json::object> out;
    json::object o = r.Json();
    if (!o.contains("entries")) return out;
    for (const json::value& e : o.at("entries").as_array()) out.push_back(e.as_object());
    return out;
  }

  static std::string dir_, vkey_;
  static GatewayConfig config_;
  static Gateway* gw_;
  static uint16_t port_;
};
uint16_t ReportingTest::port_ = 0;
std::string ReportingTest::dir_, ReportingTest::vkey_;
GatewayConfig ReportingTest::config_;
Gateway* ReportingTest::gw_ = nullptr;

// "From that moment the firewall protects them exactly like any other
// victim": under every shipped pack, the reported person gets the same
// decisions as a victim the force already held with the same facts (a
// control subject written straight into the store), and the officer's
// status check is refused everywhere. Immigration Enforcement's request is
// refused under every pack except the status-quo guidance (Pack B,
// npcc-2020, and the packs built on its core), whose agreement B4 lets the
// force give IE a victim's address at its discretion; that set is pinned.
TEST_F(ReportingTest, ReportedVictimIsProtectedLikeAnyVictimUnderEveryShippedPack) {
  auto packs = policy::FindPacks(kSource + "/policies/uk");
  ASSERT_TRUE(packs) << packs.error().ToString();
  // The control: a victim of domestic abuse at status reported, no concern.
  Person control{UniqueName("Control"), UniqueName("Victim"), "1991-03-14", "", "", 0};
  {
    auto store = store::OpenSqliteStore((fs::path(dir_) / "store.db").string());
    ASSERT_TRUE(store) << store.error().ToString();
    store::Subject s;
    s.reference = "CONTROL-" + control.given;
    s.given_name = control.given;
    s.family_name = control.family;
    s.date_of_birth = control.dob;
    Status st = (*store)->Bulk([&]() -> Status {
      FB_ASSIGN_OR_RETURN(int64_t id, (*store)->AddSubject(s));
      FB_RETURN_IF_ERROR((*store)->PutCase({"CONTROL-CASE-" + control.given, "domestic-abuse", "reported"}));
      FB_RETURN_IF_ERROR((*store)->AddParticipant("CONTROL-CASE-" + control.given, id, "victim"));
      store::Record r;
      r.subject_id = id;
      r.kind = "victim-statement";
      r.collected_as = "victim";
      r.case_id = "CONTROL-CASE-" + control.given;
      r.fields = {{"given_name", control.given}, {"family_name", control.family}, {"date_of_birth", control.dob},
                  {"phone", "07700 900456"}, {"narrative", "x"}};
      FB_ASSIGN_OR_RETURN(int64_t rid, (*store)->AddRecord(r));
      (void)rid;
      return Ok();
    });
    ASSERT_TRUE(st) << st.error().ToString();
  }
  int tried = 0;
  std::set<std::string> ie_permitted;
  // One gateway at a time on the force's log: the fixture's stops first.
  delete gw_;
  gw_ = nullptr;
  for (const std::string& pack : *packs) {
    std::string name = fs::path(pack).filename().string();
    if (name == "schema" || name == "common") continue;  // imported by the others, not deployed alone
    SCOPED_TRACE(pack);
    GatewayConfig c = config_;
    c.policy_packs = {pack};
    auto gw = Gateway::Start(c);
    ASSERT_TRUE(gw) << gw.error().ToString();
    port_ = (*gw)->port();
    Person p = Report();
    ASSERT_FALSE(p.token.empty());
    auto [ie_status, officer] = AskAbout(p);
    auto [control_ie, control_officer] = AskAbout(control);
    EXPECT_EQ(ie_status, control_ie) << "the reported victim must be treated like the victim the force held";
    EXPECT_EQ(officer, control_officer);
    EXPECT_EQ(officer, "deny") << "the officer's status check must be refused";
    EXPECT_TRUE(ie_status == 403 || ie_status == 200) << ie_status;
    if (ie_status != 403) ie_permitted.insert(name);
    gw->reset();
    ++tried;
  }
  Start({kStrict});
  EXPECT_GE(tried, 8) << "too few shipped packs were exercised";
  EXPECT_EQ(ie_permitted, (std::set<std::string>{"hmicfrs-rec1", "npcc-2020", "npcc-2020-core"}));
}

TEST_F(ReportingTest, TrackerShowsBothRefusalsWithReceiptsThatVerify) {
  Person p = Report();
  Person other = Report("witness");
  auto [ie, officer] = AskAbout(p);
  ASSERT_EQ(ie, 403);
  ASSERT_EQ(officer, "deny");
  AskAbout(other);  // the other person's decisions must never show
  Reply r = Tracker(p.token);
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<json::object> lines = Lines(r);
  ASSERT_EQ(lines.size(), 3u) << r.body;  // newest first: officer, IE, the report
  EXPECT_EQ(lines[2].at("log_index").to_number<uint64_t>(), p.report_index);
  EXPECT_EQ(lines[2].at("outcome"), "recorded");
  EXPECT_EQ(lines[1].at("outcome"), "refused");
  EXPECT_EQ(lines[1].at("requester").at("organisation_type"), "home-office-immigration-enforcement");
  EXPECT_EQ(lines[1].at("purpose").at("declared"), "immigration-enforcement");
  EXPECT_EQ(lines[1].at("categories_disclosed").as_array().size(), 0u);
  EXPECT_FALSE(lines[1].at("because").as_array().empty());
  EXPECT_EQ(lines[0].at("outcome"), "refused");
  EXPECT_EQ(lines[0].at("requester").at("organisation_type"), "police-force");
  EXPECT_EQ(lines[0].at("purpose").at("declared"), "immigration-status-check");
  for (const json::object& l : lines) {
    // Nothing about the case, other people, flags or the concern; no free text.
    for (const char* key : {"subject", "roles", "flags", "cases", "records", "immigration_concern", "opened",
                            "sealed", "request_id", "unix_time"}) {
      EXPECT_FALSE(l.contains(key)) << key;
    }
  }
  EXPECT_EQ(r.body.find(other.given), std::string::npos);
  EXPECT_EQ(r.body.find("He hit me"), std::string::npos);
  json::object answer = r.Json();
  ExpectReceiptsVerify(answer);
  EXPECT_NE(std::string(answer.at("freshness").as_string()).find("checkpoint"), std::string::npos);
  EXPECT_GT(answer.at("checkpoint_size").to_number<uint64_t>(), lines[0].at("log_index").to_number<uint64_t>());

  // The other person's tracker shows only her own.
  Reply ro = Tracker(other.token);
  ASSERT_EQ(ro.status, 200);
  for (const json::object& l : Lines(ro)) {
    uint64_t i = l.at("log_index").to_number<uint64_t>();
    for (const json::object& mine : lines) EXPECT_NE(i, mine.at("log_index").to_number<uint64_t>());
  }
  EXPECT_EQ(Lines(ro).size(), 3u);

  // Filters and paging.
  EXPECT_EQ(Lines(Tracker(p.token, "?purpose=immigration-enforcement")).size(), 1u);
  EXPECT_EQ(Lines(Tracker(p.token, "?per_page=2&page=2")).size(), 1u);
  EXPECT_EQ(Lines(Tracker(p.token, "?to=2001-01-01")).size(), 0u);
  Reply bad = Tracker(p.token, "?page=0");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json().at("error").at("field"), "page");
  EXPECT_EQ(Tracker(p.token, "?colour=red").Json().at("error").at("field"), "colour");

  // The evidence pack: JSON with every entry, and a printable page.
  Reply pack = As("", "GET", "/v1/tracker/export", "", p.token);
  ASSERT_EQ(pack.status, 200) << pack.body;
  EXPECT_EQ(pack.Json().at("entries").as_array().size(), 3u);
  EXPECT_FALSE(pack.Json().at("policy_hashes").as_array().empty());
  Reply html = As("", "GET", "/v1/tracker/export?format=html", "", p.token);
  ASSERT_EQ(html.status, 200);
  EXPECT_EQ(html.body.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.body.find("home-office-immigration-enforcement"), std::string::npos);
  EXPECT_EQ(html.body.find("<script"), std::string::npos);
}

TEST_F(ReportingTest, AdvocateWithMandateSeesTheSameAndTheViewIsLogged) {
  Person p = Report();
  AskAbout(p);
  // The holder finds the subject's reference by the case and records the mandate.
  auto store = store::OpenSqliteStore((fs::path(dir_) / "store.db").string());
  ASSERT_TRUE(store) << store.error().ToString();
  auto matches = (*store)->MatchIdentity(p.given, p.family, p.dob);
  ASSERT_TRUE(matches);
  ASSERT_EQ(matches->size(), 1u);
  std::string ref = (*matches)[0].reference;
  Reply m = As(demo::kOrgDpo, "POST", "/admin/tracker/mandates",
               json::serialize(json::object{{"subject", ref}, {"advocate", demo::kOrgAdvocate}}));
  ASSERT_EQ(m.status, 201) << m.body;
  std::string mandate(m.Json().at("mandate").as_string());
  std::string mandate_id(m.Json().at("mandate_id").as_string());
  // A mandate for an organisation without the advocate scope is refused.
  Reply wrong = As(demo::kOrgDpo, "POST", "/admin/tracker/mandates",
                   json::serialize(json::object{{"subject", ref}, {"advocate", demo::kOrgImmigrationEnforcement}}));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.Json().at("error").at("field"), "advocate");

  Reply adv = Tracker(mandate, "", demo::kOrgAdvocate);
  ASSERT_EQ(adv.status, 200) << adv.body;
  std::vector<json::object> seen = Lines(adv);
  ASSERT_GE(seen.size(), 3u);
  int refusals = 0;
  for (const json::object& l : seen) refusals += l.at("outcome") == "refused";
  EXPECT_EQ(refusals, 2);
  ExpectReceiptsVerify(adv.Json());

  // The person sees the advocate's view.
  std::vector<json::object> mine = Lines(Tracker(p.token));
  ASSERT_FALSE(mine.empty());
  EXPECT_EQ(mine[0].at("outcome"), "viewed");
  EXPECT_EQ(mine[0].at("requester").at("organisation_type"), "victim-support-service");

  // A mandate opens nothing for anyone but its advocate.
  Reply unknown = Tracker("fbt_" + std::string(64, '0'));
  Reply by_ie = Tracker(mandate, "", demo::kOrgImmigrationEnforcement);
  Reply no_cert = Tracker(mandate);
  EXPECT_EQ(by_ie.status, unknown.status);
  EXPECT_EQ(by_ie.body, unknown.body);
  EXPECT_EQ(no_cert.body, unknown.body);

  // Revoked: refused, in the same words as an unknown token.
  Reply rv = As(demo::kOrgDpo, "POST", "/admin/tracker/mandates/revoke",
                json::serialize(json::object{{"subject", ref}, {"mandate_id", mandate_id}}));
  ASSERT_EQ(rv.status, 200) << rv.body;
  Reply after = Tracker(mandate, "", demo::kOrgAdvocate);
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.body, unknown.body);
}

TEST_F(ReportingTest, HeldEntryAppearsOnlyAfterItsDate) {
  Person p = Report();
  AskAbout(p);
  std::vector<json::object> before = Lines(Tracker(p.token));
  ASSERT_EQ(before.size(), 3u);
  uint64_t ie_index = before[1].at("log_index").to_number<uint64_t>();
  // The admin endpoint: reason codes and the longest hold are enforced.
  Reply too_long = As(demo::kOrgDpo, "POST", "/admin/tracker/holds",
                      json::serialize(json::object{{"log_index", ie_index}, {"hidden_until", "2999-01-01"},
                                                   {"reason", "live-investigation"}}));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.Json().at("error").at("field"), "hidden_until");
  Reply bad_reason = As(demo::kOrgDpo, "POST", "/admin/tracker/holds",
                        json::serialize(json::object{{"log_index", ie_index}, {"hidden_until", "2999-01-01"},
                                                     {"reason", "because I say so"}}));
  EXPECT_EQ(bad_reason.status, 400);
  Reply by_ie = As(demo::kOrgImmigrationEnforcement, "POST", "/admin/tracker/holds", "{}");
  EXPECT_EQ(by_ie.status, 403);
  // A hold a few seconds long, written as the endpoint would (its dates are days).
  auto store = store::OpenSqliteStore((fs::path(dir_) / "store.db").string());
  ASSERT_TRUE(store);
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  ASSERT_TRUE((*store)->PutHold({ie_index, now + 3, "live-investigation", now}));
  std::vector<json::object> held = Lines(Tracker(p.token));
  ASSERT_EQ(held.size(), 2u);
  for (const json::object& l : held) EXPECT_NE(l.at("log_index").to_number<uint64_t>(), ie_index);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  std::vector<json::object> after = Lines(Tracker(p.token));
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[1].at("log_index").to_number<uint64_t>(), ie_index);
  // The holder's metrics count holds per month.
  Reply metrics = As(demo::kOrgDpo, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("firebreak_tracker_holds{month=\""), std::string::npos);
}

TEST_F(ReportingTest, ImmigrationFieldsAreDroppedAndNeverReachTheStore) {
  std::string given = UniqueName("Leila");
  json::object body{
      {"role", "witness"},
      {"offence", "assault"},
      {"Nationality", "MARKERNATIONALITYQX"},
      {"person", {{"given_name", given}, {"family_name", "Haddad"}, {"date_of_birth", "1985-07-02"},
                  {"immigration_status", "MARKERSTATUSQX"}, {"Passport-Number", "MARKERPASSPORTQX"},
                  {"documents", {{"home_office_reference", "MARKERHOREFQX"}, {"BRP", "MARKERBRPQX"}}}}},
      {"incident", {{"narrative", "I saw it from the bus stop."}, {"visa", "MARKERVISAQX"}}}};
  Reply r = As(demo::kOrgVictimService, "POST", "/v1/reports", json::serialize(body));
  ASSERT_EQ(r.status, 201) << r.body;
  json::object o = r.Json();
  std::vector<std::string> dropped;
  for (const json::value& d : o.at("dropped_fields").as_array()) dropped.emplace_back(d.as_string());
  EXPECT_EQ(dropped.size(), 6u) << r.body;
  EXPECT_NE(std::find(dropped.begin(), dropped.end(), "person.documents.home_office_reference"), dropped.end());
  EXPECT_NE(std::string(o.at("message").as_string()).find("not kept"), std::string::npos);
  EXPECT_EQ(r.body.find("MARKER"), std::string::npos);
  // Never in the database file (nor its write-ahead log), nor in the log.
  for (const char* f : {"store.db", "store.db-wal"}) {
    EXPECT_EQ(ReadAll(fs::path(dir_) / f).find("MARKER"), std::string::npos) << f;
  }
  std::string all = ReadAll(fs::path(dir_) / "store.db") + ReadAll(fs::path(dir_) / "store.db-wal");
  EXPECT_NE(all.find(given), std::string::npos) << "the report itself must be in the store";
  for (const auto& e : fs::recursive_directory_iterator(fs::path(dir_) / "log")) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(ReadAll(e.path()).find("MARKER"), std::string::npos) << e.path();
  }
  Reply metrics = As(demo::kOrgDpo, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("firebreak_report_fields_dropped_total"), std::string::npos);
}

TEST_F(ReportingTest, BadReportsNameTheFieldAndChangeNothing) {
  auto store = store::OpenSqliteStore((fs::path(dir_) / "store.db").string());
  ASSERT_TRUE(store);
  auto before = (*store)->CountAll();
  ASSERT_TRUE(before);
  struct Case {
    std::string body, field;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"offence":"assault","person":{"given_name":"A","family_name":"B"}})", "role"},
           {R"({"role":"suspect","offence":"assault","person":{"given_name":"A","family_name":"B"}})", "role"},
           {R"({"role":"victim","offence":"immigration-offence","person":{"given_name":"A","family_name":"B"}})",
            "offence"},
           {R"({"role":"victim","offence":"assault","person":{"given_name":"A"}})", "person.family_name"},
           {R"({"role":"victim","offence":"assault","person":{"given_name":"A","family_name":"B","shoe":"9"}})",
            "person.shoe"},
           {R"({"role":"victim","offence":"assault","person":{"given_name":"A","family_name":"B","date_of_birth":"1990-02-30"}})",
            "person.date_of_birth"},
           {R"({"role":"victim","offence":"assault","person":{"given_name":"A","family_name":"B"},"colour":"red"})",
            "colour"},
           // Text the store could not keep: U+0000 (JSON allows it), and
           // bytes that are not UTF-8 (the JSON parser refuses the body).
           {R"({"role":"victim","offence":"assault","person":{"given_name":"A\u0000","family_name":"B"}})",
            "person.given_name"},
           {R"({"role":"victim","offence":"assault","person":{"given_name":"A","family_name":"B"},)"
            R"("incident":{"narrative":"x\u0000y"}})",
            "incident.narrative"},
           {"{\"role\":\"victim\",\"offence\":\"assault\",\"person\":{\"given_name\":\"Siobh\xE1n\",\"family_name\":\"B\"}}",
            ""},
       }) {
    SCOPED_TRACE(c.body);
    Reply r = As(demo::kOrgVictimService, "POST", "/v1/reports", c.body);
    EXPECT_EQ(r.status, 400) << r.body;
    if (c.field.empty()) {
      EXPECT_FALSE(r.Json().at("error").as_object().contains("field")) << r.body;
    } else {
      EXPECT_EQ(r.Json().at("error").at("field"), json::value(c.field)) << r.body;
    }
  }
  auto after = (*store)->CountAll();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->subjects, before->subjects);
  EXPECT_EQ(after->cases, before->cases);
  // Only intake organisations take reports.
  EXPECT_EQ(As(demo::kOrgImmigrationEnforcement, "POST", "/v1/reports", "{}").status, 403);
  EXPECT_EQ(As(demo::kOrgAdvocate, "POST", "/v1/reports", "{}").status, 403);
  EXPECT_EQ(As("", "POST", "/v1/reports", "{}").status, 401);
  // An intake organisation asks for nothing.
  EXPECT_EQ(As(demo::kOrgVictimService, "POST", "/v1/disclosures", "{}").status, 403);
}

TEST_F(ReportingTest, WrongGuessedRevokedTokensGetTheUnknownAnswer) {
  Person p = Report();
  Reply unknown = Tracker("fbt_" + std::string(64, 'a'));
  ASSERT_EQ(unknown.status, 401);
  std::string almost = p.token;
  almost.back() = almost.back() == '0' ? '1' : '0';
  for (const std::string& t : {std::string(), std::string("x"), almost, p.token + "0",
                               std::string("fbt_") + std::string(64, 'f'), std::string(5000, 'q')}) {
    Reply r = Tracker(t);
    EXPECT_EQ(r.status, unknown.status) << t.substr(0, 20);
    EXPECT_EQ(r.body, unknown.body);
  }
  // Rotation: the old token becomes unknown, the new one works.
  Reply rot = As("", "POST", "/v1/tracker/rotate", "", p.token);
  ASSERT_EQ(rot.status, 200) << rot.body;
  std::string fresh(rot.Json().at("token").as_string());
  Reply old = Tracker(p.token);
  EXPECT_EQ(old.status, unknown.status);
  EXPECT_EQ(old.body, unknown.body);
  EXPECT_EQ(Tracker(fresh).status, 200);
  EXPECT_EQ(As("", "POST", "/v1/tracker/rotate", "", p.token).body, unknown.body);
  // Holder-issued tokens for a subject known before the pathway existed.
  Reply issued = As(demo::kOrgDpo, "POST", "/admin/tracker/tokens", R"({"subject":"DEMO-R05"})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  Reply known = Tracker(std::string(issued.Json().at("token").as_string()));
  EXPECT_EQ(known.status, 200) << known.body;
  EXPECT_EQ(As(demo::kOrgDpo, "POST", "/admin/tracker/tokens", R"({"subject":"NOPE"})").status, 404);
  EXPECT_EQ(As(demo::kOrgDpo, "POST", "/admin/tracker/tokens", R"({"who":"x"})").Json().at("error").at("field"), "who");
}

// The index is rebuilt from the log with the audit key: wiped, the tracker
// shows nothing; rebuilt (`firebreak tracker reindex`), it shows the same.
TEST_F(ReportingTest, IndexIsRebuiltFromTheLog) {
  Person p = Report();
  AskAbout(p);
  Reply before = Tracker(p.token);
  ASSERT_EQ(Lines(before).size(), 3u);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((fs::path(dir_) / "store.db").string().c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  ASSERT_EQ(sqlite3_exec(db, "DELETE FROM tracker_index", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(Lines(Tracker(p.token)).size(), 0u);
  GatewayConfig c = config_;
  auto n = RebuildTrackerIndex(c);
  ASSERT_TRUE(n) << n.error().ToString();
  EXPECT_GE(*n, 3u);
  std::vector<json::object> after = Lines(Tracker(p.token));
  std::vector<json::object> was = Lines(before);
  ASSERT_EQ(after.size(), was.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].at("log_index"), was[i].at("log_index"));
}

}  // namespace
}  // namespace firebreak::gateway
