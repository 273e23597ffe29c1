// The reporting pathway's wire format and the tracker's pure parts.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "gateway/internal/reports.h"
#include "gateway/internal/tracker.h"
#include "store/store.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;

TEST(ImmigrationFields, ExactNamesAndStemsWhateverTheCase) {
  for (const char* k : {"nationality", "Nationality", "NATIONALITY", "immigration_status", "Immigration-Status",
                        "immigrationStatus", "passport", "passport_number", "Passport Number", "home_office_reference",
                        "HomeOfficeRef", "ho_ref", "visa", "Visa", "visa_type", "brp", "BRP", "share_code",
                        "asylum_claim", "leave_to_remain", "right_to_work", "country_of_birth", "place_of_birth",
                        "citizenship", "settled_status", "eu_settled_status", "uan"}) {
    EXPECT_TRUE(IsImmigrationField(k)) << k;
  }
  for (const char* k : {"given_name", "family_name", "phone", "narrative", "injuries", "first_language",
                        "interpreter", "postcode", "advisory", "division"}) {
    EXPECT_FALSE(IsImmigrationField(k)) << k;
  }
}

TEST(ParseReport, DropsImmigrationFieldsAtAnyDepthAndKeepsTheRest) {
  auto r = ParseReport(R"({"role":"victim","offence":"assault","nationality":"x",
      "person":{"given_name":"Ana","family_name":"Silva","Passport":"y","phone":"1",
                "papers":{"visa":"z","BRP":"w"}},
      "incident":{"narrative":"n","extra":[{"immigration_status":"q"}]}})");
  // `incident.extra` is an unknown field once its immigration key is gone.
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "incident.extra");
  auto ok = ParseReport(R"({"role":"victim","offence":"assault","nationality":"x",
      "person":{"given_name":"Ana","family_name":"Silva","Passport":"y","phone":"1",
                "papers":{"visa":"z","BRP":"w"}},
      "incident":{"narrative":"n"}})");
  ASSERT_TRUE(ok) << ok.error().field << ": " << ok.error().message;
  EXPECT_EQ(ok->dropped, (std::vector<std::string>{"nationality", "person.Passport", "person.papers.visa",
                                                   "person.papers.BRP"}));
  EXPECT_EQ(ok->role, "victim");
  EXPECT_EQ(ok->offence, "assault");
  EXPECT_EQ(ok->given_name, "Ana");
  std::vector<std::string> names;
  for (const store::Field& f : ok->fields) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"given_name", "family_name", "phone", "narrative"}));
  for (const store::Field& f : ok->fields) {
    EXPECT_NE(f.value, "x");
    EXPECT_NE(f.value, "y");
  }
}

TEST(ParseReport, OtherMistakesNameTheField) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {"[]", ""},
      {"{", ""},
      {R"({"offence":"assault","person":{"given_name":"A","family_name":"B"}})", "role"},
      {R"({"role":"witness","person":{"given_name":"A","family_name":"B"}})", "offence"},
      {R"({"role":"witness","offence":"immigration-offence","person":{"given_name":"A","family_name":"B"}})", "offence"},
      {R"({"role":"witness","offence":"theft"})", "person"},
      {R"({"role":"witness","offence":"theft","person":{"given_name":"A","family_name":7}})", "person.family_name"},
      {R"({"role":"witness","offence":"theft","person":{"given_name":"A","family_name":"B","date_of_birth":"1-1-1"}})",
       "person.date_of_birth"},
      {R"({"role":"witness","offence":"theft","person":{"given_name":"A","family_name":"B"},"incident":"x"})", "incident"},
  };
  for (const Case& c : cases) {
    auto r = ParseReport(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().field, c.field) << c.body;
  }
}

TEST(RateLimiter, BurstThenRefillPerKey) {
  RateLimiter limit(2, 3);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limit.Allow("a", t0));
  EXPECT_FALSE(limit.Allow("a", t0));
  EXPECT_TRUE(limit.Allow("b", t0)) << "buckets are per organisation";
  EXPECT_TRUE(limit.Allow("a", t0 + std::chrono::milliseconds(500)));
  EXPECT_FALSE(limit.Allow("a", t0 + std::chrono::milliseconds(500)));
}

// Concurrent commits share transactions; a failing body fails alone (its
// writes undone), the others commit.
TEST(GroupCommitter, CommitsEveryoneAndIsolatesAFailure) {
  auto store = store::NewMemoryStore();
  GroupCommitter commits(*store);
  std::vector<std::thread> threads;
  std::vector<int> ok(40, -1);
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      store::Subject s;
      s.reference = "S" + std::to_string(i);
      Status st = commits.Commit([&]() -> Status {
        FB_ASSIGN_OR_RETURN(int64_t id, store->AddSubject(s));
        (void)id;
        if (i == 8) return tl::make_unexpected(InvalidArgument("report 8 fails after its write"));
        return Ok();
      });
      ok[size_t(i)] = st ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 40; ++i) EXPECT_EQ(ok[size_t(i)], i == 8 ? 0 : 1) << i;
  auto counts = store->CountAll();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->subjects, 39);
  auto eight = store->FindSubjectByReference("S8");
  ASSERT_TRUE(eight);
  EXPECT_FALSE(*eight);
}

TEST(TrackerQuery, ParsesAndNamesBadParameters) {
  auto f = ParseTrackerQuery("from=2026-01-01&to=2026-01-31&purpose=immigration-enforcement&page=2&per_page=10");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->from, *DateToUnix("2026-01-01"));
  EXPECT_EQ(f->to, *DateToUnix("2026-02-01"));
  EXPECT_EQ(f->purpose, "immigration-enforcement");
  EXPECT_EQ(f->page, 2u);
  EXPECT_EQ(f->per_page, 10u);
  for (auto [q, field] : std::vector<std::pair<const char*, const char*>>{
           {"from=2026-13-01", "from"}, {"page=0", "page"}, {"per_page=500", "per_page"}, {"purpose=A%20B", "purpose"},
           {"x=1", "x"}, {"from=2026-02-01&to=2026-01-01", "from"}, {"format=pdf", "format"}, {"purpose=%zz", "purpose"}}) {
    auto bad = ParseTrackerQuery(q);
    ASSERT_FALSE(bad) << q;
    EXPECT_EQ(bad.error().field, field) << q;
  }
}

TEST(TrackerLine, ShowsTheDecisionAndNothingAboutTheCaseOrOthers) {
  json::object e = json::parse(R"({"kind":"decision","time":1764547200,"endpoint":"disclosures",
      "requester":{"org":"ie-ice-south","org_type":"home-office-immigration-enforcement","role":"immigration-officer"},
      "purpose":"immigration-enforcement","decision":"deny","asked":["address"],"disclosed":[],
      "policy_hash":"sha256:ab","request_id":"r1",
      "opened":{"subject":"p1","effective_purpose":"immigration-enforcement","roles":["victim"],
                "flags":["domestic-abuse"],"immigration_concern":"confirmed-record",
                "cases":[{"type":"assault","status":"reported","role":"victim"}],
                "rules":["F1_no_ie_for_victims","unknown_rule"],
                "obligations":["treat-as-victim-no-police-immigration-action"]}})")
                     .as_object();
  auto line = TrackerLine(e, 41, {{"F1_no_ie_for_victims", "Victims are protected from enforcement."}}, "RECEIPT");
  ASSERT_TRUE(line);
  EXPECT_EQ(line->at("log_index"), 41);
  EXPECT_EQ(line->at("time"), "2025-12-01T00:00:00Z");
  EXPECT_EQ(line->at("outcome"), "refused");
  EXPECT_EQ(line->at("requester").at("organisation_type"), "home-office-immigration-enforcement");
  EXPECT_FALSE(line->at("requester").as_object().contains("org"));
  EXPECT_EQ(line->at("because").at(0).at("because"), "Victims are protected from enforcement.");
  EXPECT_NE(std::string(line->at("because").at(1).at("because").as_string()).find("not in the policy"), std::string::npos);
  EXPECT_EQ(line->at("obligations").at(0), "Treat as victim no police immigration action");
  EXPECT_EQ(line->at("receipt"), "RECEIPT");
  std::string text = json::serialize(*line);
  for (const char* never : {"confirmed-record", "domestic-abuse", "\"p1\"", "\"r1\"", "cases", "assault", "reported"}) {
    EXPECT_EQ(text.find(never), std::string::npos) << never << " in " << text;
  }
  json::object policy = json::parse(R"({"kind":"policy","time":1})").as_object();
  EXPECT_FALSE(TrackerLine(policy, 1, {}, ""));
}

TEST(EvidenceHtml, EscapesEveryValueAndLoadsNothing) {
  json::object pack = json::parse(R"({"freshness":"<b>fresh</b>","entries":[{"time":"t","what":"<script>x</script>",
      "requester":{"organisation_type":"a&b"},"outcome":"refused","receipt":"r<"}]})")
                          .as_object();
  std::string h = EvidenceHtml(pack);
  EXPECT_EQ(h.find("<script"), std::string::npos);
  EXPECT_NE(h.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(h.find("a&amp;b"), std::string::npos);
  EXPECT_EQ(h.find("http"), std::string::npos) << "no external resources";
}

}  // namespace
}  // namespace firebreak::gateway::internal
