// The transparency report on a real demo log: a demo force's gateway decides
// a short, known list of requests under the strict firewall; the counts the
// report makes equal the ones written out by hand below, every other cell of
// the closed vocabularies is present and zero; a release is charged to the
// budget ledger once and returned as stored when asked again; an
// over-budget release is refused; the proved statements are exactly the
// verifier's proved guarantees.
#include "report/report.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <tuple>

#include <gtest/gtest.h>

#include "base/base.h"
#include "base/testing/suite.h"
#include "demo/demo.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"
#include "verify/testing/test_util.h"
#include "verify/verify.h"

namespace firebreak::report {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using gateway::testing::Call;
using gateway::testing::Disclosure;
using gateway::testing::Ref;

const std::string kSource = FIREBREAK_SOURCE_DIR;
const std::string kStrict = kSource + "/policies/uk/strict-firewall";
const std::string kIe = "home-office-immigration-enforcement";

using Cell = std::tuple<std::string, std::string, std::string, std::string>;  // type, purpose, decision, role

class ReportTest : public ::testing::Test {
 protected:
  static void Prepare() {
    dir_ = (fs::temp_directory_path() / ("report_test_" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    demo::DemoOptions o;
    o.dir = dir_;
    o.subjects = 50;
    o.policy_packs = {kStrict};
    auto s = demo::CreateDemoForce(o);
    ASSERT_TRUE(s) << s.error().ToString();
    auto c = gateway::LoadConfig(s->config_path);
    ASSERT_TRUE(c) << c.error().ToString();
    c->port = 0;
    c->metrics_listen = "";
    c->access_log = false;
    c->publish_interval = std::chrono::milliseconds(20);
    vkey_ = s->log_verifier_key;
    auto gw = gateway::Gateway::Start(*c);
    ASSERT_TRUE(gw) << gw.error().ToString();
    auto ie = [&](const std::string& ref) {
      auto reply = Call(dir_, (*gw)->port(), "POST", "/v1/disclosures",
                        Disclosure("immigration-enforcement", "disclose", {"address"}, "iaa-1999-s20",
                                   "immigration-officer", Ref(ref)),
                        demo::kOrgImmigrationEnforcement);
      ASSERT_EQ(reply.status, 403) << ref << " " << reply.body;
    };
    ie("DEMO-R04");  // a witness
    ie("DEMO-R05");  // a victim, asked about three times: the cap of 2 keeps two
    ie("DEMO-R05");
    ie("DEMO-R05");
    ie("DEMO-R06");  // a victim
    ie("NO-SUCH-PERSON");
    auto stats = Call(dir_, (*gw)->port(), "POST", "/v1/decisions",
                      Disclosure("statistics", "disclose", {"incident"}, "ukgdpr-6-1-e", "analyst", ""),
                      demo::kOrgRecordsSystem);
    ASSERT_EQ(stats.status, 200) << stats.body;
    (*gw)->Stop();
    auto now = std::chrono::system_clock::now();
    now_ = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void SetUp() override { FIREBREAK_PREPARE_SUITE(Prepare); }

  static CountOptions Count(uint64_t cap) {
    CountOptions o;
    o.log_dir = dir_ + "/log";
    auto key = ledger::NoteVerifier::FromKeyText(vkey_);
    EXPECT_TRUE(key);
    if (key) o.log_key = *key;
    auto audit_key = entry::ReadAuditKey(dir_ + "/keys/audit.key");
    EXPECT_TRUE(audit_key);
    if (audit_key) o.keys = entry::Keyring({*audit_key});
    o.packs = {kStrict};
    o.period = Period::kMonth;
    o.from = *ParsePeriodStart(PeriodName(now_, Period::kMonth), Period::kMonth);
    o.to = PeriodEnd(o.from, Period::kMonth);
    o.cap = cap;
    return o;
  }

  static ReleaseOptions Releasing(const std::string& ledger, const std::string& epsilon, uint64_t cap,
                                  const std::string& budget = "1") {
    ReleaseOptions r;
    r.count = Count(cap);
    r.epsilon = *Rational::Parse(epsilon);
    r.ledger_dir = ledger;
    r.yearly_budget = *Rational::Parse(budget);
    r.now = PeriodEnd(r.count.to, Period::kYear);  // the period is over
    return r;
  }

  static inline std::string dir_, vkey_;
  static inline int64_t now_ = 0;
};

TEST_F(ReportTest, CountsEqualTheHandCount) {
  auto t = CountLog(Count(2));
  ASSERT_TRUE(t) << t.error().ToString();
  // Written out by hand from the requests above (strict firewall: every
  // Immigration Enforcement request about a protected person is refused;
  // a person not found is refused; statistics about no one are permitted).
  std::map<Cell, uint64_t> want = {
      {{kIe, "immigration-enforcement", "deny", "witness"}, 1},
      {{kIe, "immigration-enforcement", "deny", "victim"}, 3},  // R05 twice (capped), R06
      {{kIe, "immigration-enforcement", "deny", "none"}, 1},    // not found
      {{"police-force", "statistics", "permit", "none"}, 1},
  };
  const Vocabulary& v = t->vocabulary;
  ASSERT_EQ(v.periods.size(), 1u);
  std::map<Cell, uint64_t> got;
  size_t cells = 0;
  for (size_t ty = 0; ty < v.requester_types.size(); ++ty)
    for (size_t p = 0; p < v.purposes.size(); ++p)
      for (size_t d = 0; d < v.decisions.size(); ++d)
        for (size_t r = 0; r < v.roles.size(); ++r) {
          ++cells;
          uint64_t n = t->cells[v.Index(0, ty, p, d, r)];
          if (n) got[{v.requester_types[ty], v.purposes[p], v.decisions[d], v.roles[r]}] = n;
        }
  EXPECT_EQ(got, want);
  EXPECT_EQ(t->over_cap, 1u);
  EXPECT_EQ(t->unreadable, 0u);
  EXPECT_EQ(t->outside_vocabulary, 0u);
  EXPECT_EQ(t->decisions_in_range, 7u);
  // Every cell of the closed vocabularies, zeros included.
  EXPECT_EQ(cells, t->cells.size());
  EXPECT_GE(v.requester_types.size(), 10u);
  EXPECT_GE(v.purposes.size(), 10u);
  EXPECT_EQ(v.roles.back(), "none");
  EXPECT_NE(std::find(v.roles.begin(), v.roles.end(), "pupil"), v.roles.end());
  ASSERT_EQ(t->policies_in_force.size(), 1u);
  EXPECT_EQ(t->policies_in_force[0], t->pack_hash);

  // Without the cap R05 counts three times.
  auto loose = CountLog(Count(10));
  ASSERT_TRUE(loose);
  EXPECT_EQ(loose->over_cap, 0u);
  size_t victim = std::find(v.roles.begin(), v.roles.end(), "victim") - v.roles.begin();
  size_t ie = std::find(v.requester_types.begin(), v.requester_types.end(), kIe) - v.requester_types.begin();
  size_t enf = std::find(v.purposes.begin(), v.purposes.end(), "immigration-enforcement") - v.purposes.begin();
  EXPECT_EQ(loose->cells[v.Index(0, ie, enf, 1, victim)], 4u);

  // A month with no entries: every cell present, every one zero.
  CountOptions empty = Count(2);
  empty.from = *ParsePeriodStart("2020-01", Period::kMonth);
  empty.to = PeriodEnd(PeriodEnd(empty.from, Period::kMonth), Period::kMonth);
  auto z = CountLog(empty);
  ASSERT_TRUE(z);
  EXPECT_EQ(z->vocabulary.periods, (std::vector<std::string>{"2020-01", "2020-02"}));
  EXPECT_EQ(z->cells.size(), z->vocabulary.cells());
  for (uint64_t n : z->cells) EXPECT_EQ(n, 0u);
}

TEST_F(ReportTest, WorkersCountTheSame) {
  // The cap keeps each person's first decisions in log order, whatever the
  // number of workers reading the log.
  for (size_t workers : {1u, 2u, 3u, 5u}) {
    CountOptions o = Count(2);
    o.threads = workers;
    auto t = CountLog(o);
    ASSERT_TRUE(t) << t.error().ToString();
    CountOptions one = Count(2);
    one.threads = 1;
    auto base = CountLog(one);
    ASSERT_TRUE(base);
    EXPECT_EQ(t->cells, base->cells) << workers;
    EXPECT_EQ(t->over_cap, 1u) << workers;
    EXPECT_EQ(t->entries_read, base->entries_read) << workers;
    EXPECT_EQ(t->decisions_in_range, 7u) << workers;
  }
}

TEST_F(ReportTest, WrongAuditKeyCountsNothingAsRead) {
  CountOptions o = Count(2);
  auto other = entry::AuditKeyFromHex(std::string(64, 'a'));
  ASSERT_TRUE(other);
  o.keys = entry::Keyring({*other});
  auto t = CountLog(o);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unreadable, 7u);  // every decision: none opens, none is counted
  for (uint64_t n : t->cells) EXPECT_EQ(n, 0u);
}

TEST_F(ReportTest, ReleaseIsStoredAndReturnedNeverFreshNoise) {
  verify::testing::ScratchDir ledger("report-ledger");
  CsprngSource rng;
  auto first = MakeRelease(Releasing(ledger.path(), "1/2", 2), rng);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE(first->stored);
  EXPECT_EQ(first->noisy.size(), first->vocabulary.cells());
  EXPECT_EQ(first->scale.t, 4u);  // cap/ε = 2/(1/2) = 4
  EXPECT_EQ(first->scale.s, 1u);
  EXPECT_EQ(first->half_width, HalfWidth95(Scale{4, 1}));
  // Noise was added: with 5,000+ cells of scale 4, some cell moved.
  size_t nonzero = 0;
  for (int64_t n : first->noisy) nonzero += n != 0;
  EXPECT_GT(nonzero, first->noisy.size() / 4);

  auto again = MakeRelease(Releasing(ledger.path(), "1/2", 2), rng);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->stored);
  EXPECT_EQ(again->noisy, first->noisy);
  EXPECT_EQ(again->output_hash, first->output_hash);
  EXPECT_EQ(again->id, first->id);

  auto l = BudgetLedger::Open(ledger.path(), first->holder, std::nullopt);
  ASSERT_TRUE(l) << l.error().ToString();
  ASSERT_EQ(l->entries().size(), 1u);  // charged once
  EXPECT_EQ(l->entries()[0].output_hash, first->output_hash);
  EXPECT_EQ(l->entries()[0].epsilon.ToString(), "1/2");
  EXPECT_EQ(l->entries()[0].cap, 2u);
}

TEST_F(ReportTest, TamperedStoredReleaseIsRefused) {
  verify::testing::ScratchDir ledger("report-tamper");
  CsprngSource rng;
  auto first = MakeRelease(Releasing(ledger.path(), "1/2", 1), rng);
  ASSERT_TRUE(first) << first.error().ToString();
  std::string path = ledger.path() + "/releases/" + first->id + ".json";
  auto text = ReadFile(path);
  ASSERT_TRUE(text);
  json::value v = json::parse(*text);
  auto& cells = v.at("numbers").at("cells").as_array();
  cells[0] = cells[0].as_int64() + 1;
  ASSERT_TRUE(WriteFileAtomically(path, json::serialize(v)));
  auto again = MakeRelease(Releasing(ledger.path(), "1/2", 1), rng);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kDataLoss);
}

TEST_F(ReportTest, OverBudgetReleaseIsRefused) {
  verify::testing::ScratchDir ledger("report-budget");
  CsprngSource rng;
  ASSERT_TRUE(MakeRelease(Releasing(ledger.path(), "1/2", 1), rng));
  ASSERT_TRUE(MakeRelease(Releasing(ledger.path(), "1/3", 2), rng));
  // 1/2 + 1/3 + 1/5 > 1: refused, and nothing is recorded.
  auto over = MakeRelease(Releasing(ledger.path(), "1/5", 3), rng);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(over.error().message().find("over budget"), std::string::npos) << over.error().message();
  // 1/2 + 1/3 + 1/6 = 1: exactly the budget, allowed.
  auto exact = MakeRelease(Releasing(ledger.path(), "1/6", 3), rng);
  ASSERT_TRUE(exact) << exact.error().ToString();
  auto l = BudgetLedger::Open(ledger.path(), exact->holder, std::nullopt);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->entries().size(), 3u);
  EXPECT_EQ(l->Spent(l->entries()[0].year).ToString(), "1");
  // The budget cannot be changed once set, and a ledger is one holder's.
  EXPECT_FALSE(BudgetLedger::Open(ledger.path(), exact->holder, *Rational::Parse("2")));
  EXPECT_FALSE(BudgetLedger::Open(ledger.path(), "another.example/log", std::nullopt));
}

TEST_F(ReportTest, UnfinishedPeriodIsRefused) {
  verify::testing::ScratchDir ledger("report-unfinished");
  CsprngSource rng;
  ReleaseOptions o = Releasing(ledger.path(), "1/2", 1);
  o.now = o.count.to - 1;
  auto r = MakeRelease(o, rng);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(ReportTest, StatementsAreExactlyTheVerifiersProvedGuarantees) {
  std::string why;
  auto set = verify::testing::LoadSet({kStrict}, &why);
  ASSERT_TRUE(set) << why;
  auto proved = verify::VerifyGuarantees(set);
  ASSERT_TRUE(proved);
  auto statements = ProvedStatements(set);
  ASSERT_TRUE(statements) << statements.error().ToString();
  std::vector<std::string> want, got;
  for (const auto& g : proved->guarantees) {
    if (g.outcome == verify::Outcome::kProved) want.push_back(g.name);
  }
  for (const Statement& s : *statements) got.push_back(s.guarantee);
  EXPECT_EQ(got, want);
  EXPECT_GE(got.size(), 5u);
  for (const Statement& s : *statements) {
    for (const policy::Guarantee& g : set->guarantees) {
      if (g.name == s.guarantee) {
        EXPECT_EQ(s.text, StatementText(g, *set));
      }
    }
  }
  // The firewall's own promise, as the pack writes it.
  bool firewall = false;
  for (const Statement& s : *statements) {
    if (s.guarantee == "GA1_never_firewall_purpose_for_protected") {
      EXPECT_EQ(s.text,
                "0 permits when purpose in [immigration-enforcement, immigration-offence-investigation, "
                "immigration-status-check] and subject.roles has_any [complainant, patient, pupil, service-user, "
                "victim, witness].");  // the canonical text (lists sorted)
      firewall = true;
    }
  }
  EXPECT_TRUE(firewall) << "no statement about firewall purposes for protected people";

  // A pack whose guarantee is refuted gives no statement for it; the proved
  // one stays.
  verify::testing::ScratchDir dir("report-statements");
  std::string schema = verify::testing::WriteSyntheticSchema(dir.path());
  std::string pack = verify::testing::WritePack(dir.path(), "weak", schema, R"(
permit P_all {
  when true
  grant all
  because "p"
}

guarantee G_refuted {
  never permit when subject.roles has victim
  because "g"
}

guarantee G_proved {
  always permit when purpose == stats and subject is none
  because "h"
}
)");
  auto weak = verify::testing::LoadSet({pack}, &why);
  ASSERT_TRUE(weak) << why;
  auto ws = ProvedStatements(weak);
  ASSERT_TRUE(ws) << ws.error().ToString();
  ASSERT_EQ(ws->size(), 1u);
  EXPECT_EQ((*ws)[0].guarantee, "G_proved");
  EXPECT_EQ((*ws)[0].text, "Every request when purpose == stats and subject is none (every fact known) is permitted.");
}

TEST_F(ReportTest, OutputsCarryEveryCellAndTheProofMarks) {
  verify::testing::ScratchDir ledger("report-output");
  CsprngSource rng;
  auto r = MakeRelease(Releasing(ledger.path(), "1", 1), rng);
  ASSERT_TRUE(r) << r.error().ToString();
  std::string csv = ToCsv(*r);
  EXPECT_EQ(size_t(std::count(csv.begin(), csv.end(), '\n')), r->vocabulary.cells() + 1);
  EXPECT_EQ(csv.rfind("period,requester_type,purpose,decision,protected_role,noisy_count,low95,high95\n", 0), 0u);
  std::string html = ToHtml(*r);
  // For looking at the page: FIREBREAK_REPORT_SAMPLE=/tmp/sample.html.
  if (const char* sample = std::getenv("FIREBREAK_REPORT_SAMPLE")) {
    ASSERT_TRUE(WriteFileAtomically(sample, html));
  }
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("From the proof"), std::string::npos);
  // Standalone: nothing is fetched from elsewhere.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  json::object j = r->ToJson();
  EXPECT_EQ(j.at("numbers").at("cells").as_array().size(), r->vocabulary.cells());
  for (const json::value& s : j.at("numbers").at("statements").as_array()) {
    EXPECT_EQ(s.at("from").as_string(), "proof");
  }
  auto back = Release::FromJson(j);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->noisy, r->noisy);
}

}  // namespace
}  // namespace firebreak::report
