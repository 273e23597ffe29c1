// Tests of the engine: combining semantics on a hand-written policy, request
// parsing errors, the data-driven scenario files under policies/, and
// property tests over generated policies and requests.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/engine.h"
#include "engine/facts.h"
#include "engine/scenario.h"
#include "engine/testing/generator.h"
#include "policy/policy.h"

namespace firebreak::engine {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kSourceDir = FIREBREAK_SOURCE_DIR;
const std::string kTestData = kSourceDir + "/src/engine/testdata";

std::shared_ptr<const Engine> LoadEngine(const std::vector<std::string>& dirs) {
  auto loaded = policy::LoadPolicySet(dirs);
  EXPECT_TRUE(loaded.has_value()) << loaded.error().ToString();
  if (!loaded) return nullptr;
  EXPECT_TRUE(loaded->ok()) << loaded->Render();
  if (!loaded->ok()) return nullptr;
  return Engine::Compile(loaded->set);
}

class Semantics : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = LoadEngine({kTestData + "/semantics"});
    ASSERT_NE(engine_, nullptr);
  }

  json::object Decide(const std::string& request_json) {
    auto req = ParseRequestText(request_json, engine_->schema());
    EXPECT_TRUE(req.has_value()) << req.error().ToString();
    if (!req) return {};
    return engine_->ToJson(engine_->Decide(*req), *req);
  }

  static std::string Request(const std::string& org_type, const std::string& purpose,
                             const std::string& categories, const std::string& extra = "") {
    return R"({"requester": {"org": "org-1", "org_type": ")" + org_type +
           R"(", "role": "officer"}, "purpose": ")" + purpose +
           R"(", "action": "disclose", "categories": )" + categories +
           R"(, "legal_basis": "ukgdpr-6-1-e")" + extra + "}";
  }

  static std::string Subject(const std::string& roles, const std::string& cases) {
    return R"(, "subject": {"roles": )" + roles +
           R"(, "flags": [], "immigration_concern": "none", "regularisation_pending": false, )"
           R"("subject_initiated": false, "consent_to_ie": false, "cases": )" +
           cases + "}";
  }

  static std::set<std::string> Names(const json::value& v) {
    std::set<std::string> out;
    for (const auto& e : v.as_array()) out.insert(std::string(e.as_string()));
    return out;
  }

  std::shared_ptr<const Engine> engine_;
};

TEST_F(Semantics, ForbidOverridesEveryPermitAndCarriesItsObligations) {
  auto d = Decide(Request("home-office-immigration-enforcement", "immigration-enforcement",
                          R"(["address"])", Subject(R"(["witness"])", "[]")));
  EXPECT_EQ(d["decision"], "deny");
  EXPECT_EQ(Names(d["rules"]), (std::set<std::string>{"f_protected"}));
  EXPECT_EQ(Names(d["withheld"]), (std::set<std::string>{"address"}));
  EXPECT_EQ(Names(d["obligations"]), (std::set<std::string>{"notify-dpo"}));
}

TEST_F(Semantics, PermitsUnionGrantsMinusWithheld) {
  auto d = Decide(Request("home-office-immigration-enforcement", "immigration-enforcement",
                          R"(["identity", "nationality", "contact", "incident"])",
                          Subject(R"(["suspect"])", "[]")));
  EXPECT_EQ(d["decision"], "permit");
  EXPECT_EQ(Names(d["rules"]), (std::set<std::string>{"p_ie", "p_ie_minimise"}));
  EXPECT_EQ(Names(d["disclosed"]), (std::set<std::string>{"identity", "contact"}));
  EXPECT_EQ(Names(d["withheld"]), (std::set<std::string>{"nationality", "incident"}));
  EXPECT_EQ(Names(d["obligations"]), (std::set<std::string>{"notify-dpo", "minimise"}));
}

TEST_F(Semantics, DefaultDenyWhenNothingCovers) {
  auto d = Decide(Request("police-force", "safeguarding", R"(["identity"])"));
  EXPECT_EQ(d["decision"], "deny");
  EXPECT_TRUE(d["rules"].as_array().empty());
  EXPECT_EQ(d["reasons"].as_array()[0], "No agreement covers this request.");
}

TEST_F(Semantics, UnknownFactsMatchForbidsButNotPermits) {
  // No subject: the firewall cannot rule out a protected person, so it matches.
  auto d = Decide(Request("home-office-immigration-enforcement", "immigration-enforcement",
                          R"(["address"])"));
  EXPECT_EQ(d["decision"], "deny");
  EXPECT_EQ(Names(d["rules"]), (std::set<std::string>{"f_protected"}));
  EXPECT_NE(std::string(d["reasons"].as_array()[0].as_string()).find("unknown"), std::string::npos);
  // The council agreement needs a known subject in an open case: unknown ⇒ no permit.
  auto c = Decide(Request("local-authority", "safeguarding", R"(["identity"])"));
  EXPECT_EQ(c["decision"], "deny");
}

TEST_F(Semantics, AgreementChecksPartiesPurposeBasisAndCondition) {
  std::string subj = Subject(R"([])", R"([{"type": "domestic-abuse", "status": "charged", "role": "victim"}])");
  auto d = Decide(Request("local-authority", "safeguarding", R"(["identity", "nationality", "address"])", subj));
  EXPECT_EQ(d["decision"], "permit");
  EXPECT_EQ(Names(d["disclosed"]), (std::set<std::string>{"identity"}));
  EXPECT_EQ(Names(d["withheld"]), (std::set<std::string>{"nationality", "address"}));
  EXPECT_EQ(Names(d["obligations"]), (std::set<std::string>{"signpost"}));
  // The case role makes the subject a victim, so the firewall would apply to IE.
  auto ie = Decide(Request("home-office-immigration-enforcement", "immigration-enforcement",
                           R"(["identity"])", subj));
  EXPECT_EQ(ie["decision"], "deny");
  // A concluded case no longer satisfies the agreement's condition.
  auto concluded = Decide(Request("local-authority", "safeguarding", R"(["identity"])",
                                  Subject("[]", R"([{"type": "burglary", "status": "concluded", "role": "victim"}])")));
  EXPECT_EQ(concluded["decision"], "deny");
}

TEST_F(Semantics, NormalisationJudgesPurposeByUse) {
  auto d = Decide(Request("home-office-immigration-enforcement", "criminal-investigation",
                          R"(["address"])", Subject(R"(["victim"])", "[]")));
  EXPECT_EQ(d["decision"], "deny");
  EXPECT_EQ(d["purpose"], "immigration-offence-investigation");
  EXPECT_EQ(d["declared_purpose"], "criminal-investigation");
  EXPECT_EQ(Names(d["normalised_by"]), (std::set<std::string>{"n_ie_crime"}));
  // The police declaring the same purpose are not relabelled.
  auto p = Decide(Request("police-force", "criminal-investigation", R"(["address"])",
                          Subject(R"(["victim"])", "[]")));
  EXPECT_EQ(p["purpose"], "criminal-investigation");
}

TEST_F(Semantics, ProvenanceForbidsWhatAVictimToldUs) {
  std::string subj = Subject(R"(["suspect"])", "[]");
  auto custody = Decide(Request("home-office-immigration-enforcement", "safeguarding", R"(["identity"])",
                                subj + R"(, "record": {"collected_as": "suspect"})"));
  EXPECT_EQ(custody["decision"], "permit");
  auto statement = Decide(Request("home-office-immigration-enforcement", "safeguarding", R"(["identity"])",
                                  subj + R"(, "record": {"collected_as": "victim", "case": {"type": "burglary", "status": "reported"}})"));
  EXPECT_EQ(statement["decision"], "deny");
  EXPECT_EQ(Names(statement["rules"]), (std::set<std::string>{"f_record_from_victim"}));
}

TEST_F(Semantics, ContextValuesOfEveryType) {
  std::string ctx = R"(, "context": {"urgent": true, "risk": 4, "consent_at": "2024-05-01T10:00:00Z", "case_ref": "CR-2", "channel": "disclose", "asked_by": ["victim"]})";
  auto d = Decide(Request("police-force", "safeguarding", R"(["incident"])", ctx));
  EXPECT_EQ(d["decision"], "permit");
  std::string low = R"(, "context": {"urgent": true, "risk": 2, "consent_at": "2024-05-01T10:00:00Z", "case_ref": "CR-2", "channel": "disclose", "asked_by": ["victim"]})";
  EXPECT_EQ(Decide(Request("police-force", "safeguarding", R"(["incident"])", low))["decision"], "deny");
  // A missing optional value is unknown: the permit does not match.
  std::string missing = R"(, "context": {"urgent": true, "risk": 4, "case_ref": "CR-2", "channel": "disclose", "asked_by": ["victim"]})";
  EXPECT_EQ(Decide(Request("police-force", "safeguarding", R"(["incident"])", missing))["decision"], "deny");
}

TEST_F(Semantics, StatisticsNeedNoSubject) {
  auto d = Decide(Request("local-authority", "statistics", R"(["incident"])"));
  EXPECT_EQ(d["decision"], "permit");
  EXPECT_EQ(Names(d["disclosed"]), (std::set<std::string>{"incident"}));
  EXPECT_EQ(std::string(d["policy_hash"].as_string()).substr(0, 7), "sha256:");
}

TEST_F(Semantics, RequestErrorsNameTheField) {
  const policy::Schema& s = engine_->schema();
  struct Case {
    std::string json, expect;
  } cases[] = {
      {"{", "malformed JSON"},
      {"[]", "expected a JSON object"},
      {Request("police-force", "safeguardin", "[]"), "purpose: `safeguardin` is not a purpose in schema `engine-test`; did you mean `safeguarding`?"},
      {Request("police-force", "safeguarding", R"(["identity", 3])"), "categories[1]: expected a category as a string"},
      {Request("police", "safeguarding", "[]"), "requester.org_type: `police` is not a org_type"},
      {R"({"requester": {"org": "o", "org_type": "police-force", "role": "officer"}, "action": "disclose", "categories": [], "legal_basis": "ukgdpr-6-1-e"})", "purpose: missing required field"},
      {Request("police-force", "safeguarding", "[]", R"(, "colour": "red")"), "colour: unknown field"},
      {Request("police-force", "safeguarding", "[]", R"(, "subject": {"roles": []})"), "subject.flags: missing required field"},
      {Request("police-force", "safeguarding", "[]", Subject("[]", R"([{"type": "burglary", "status": "open", "role": "victim"}])")), "subject.cases[0].status: `open` is not a case_status"},
      {Request("police-force", "safeguarding", "[]", R"(, "context": {"urgnt": true})"), "context.urgnt: not declared in schema `engine-test`; did you mean `urgent`?"},
      {Request("police-force", "safeguarding", "[]", R"(, "context": {"consent_at": "yesterday"})"), "context.consent_at: expected a UTC timestamp"},
      {Request("police-force", "safeguarding", "[]", R"(, "record": {"case": {"type": "burglary", "status": "reported"}})"), "record.collected_as: missing required field"},
  };
  for (const Case& c : cases) {
    auto r = ParseRequestText(c.json, s);
    ASSERT_FALSE(r.has_value()) << c.json;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos)
        << "got: " << r.error().message() << "\nwant: " << c.expect;
  }
}

TEST_F(Semantics, RequestJsonRoundTrips) {
  std::string text = Request("local-authority", "safeguarding", R"(["identity", "contact"])",
                             Subject(R"(["witness"])", R"([{"type": "burglary", "status": "charged", "role": "victim"}])") +
                                 R"(, "record": {"collected_as": "witness", "case": {"type": "burglary", "status": "charged"}}, "context": {"risk": 3, "asked_by": ["suspect"], "consent_at": "2024-01-02T03:04:05Z"})");
  auto r = ParseRequestText(text, engine_->schema());
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  json::object back = RequestToJson(*r, engine_->schema());
  auto again = ParseRequest(back, engine_->schema());
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(json::serialize(RequestToJson(*again, engine_->schema())), json::serialize(back));
  EXPECT_EQ(back["subject"].as_object()["roles"].as_array().size(), 2u);  // witness + victim
}

// ---- Data-driven scenario files ----

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> out;
  for (const std::string& root : {kSourceDir + "/policies", kTestData}) {
    if (!fs::exists(root)) continue;
    auto found = FindScenarioFiles(root);
    if (found) out.insert(out.end(), found->begin(), found->end());
  }
  return out;
}

class ScenarioFile : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioFile, EveryScenarioPasses) {
  auto scenarios = ParseScenarioFile(GetParam());
  ASSERT_TRUE(scenarios.has_value()) << scenarios.error().ToString();
  ASSERT_FALSE(scenarios->empty());
  ScenarioRunner runner;
  for (const Scenario& s : *scenarios) {
    ScenarioResult r = runner.Run(s);
    EXPECT_TRUE(r.passed) << s.file << ":" << s.line << ": " << s.name << "\n" << r.message;
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, ScenarioFile, ::testing::ValuesIn(ScenarioFiles()),
                         [](const auto& info) {
                           std::string n = info.param.substr(kSourceDir.size() + 1);
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

// ---- Issue 11: about no person, the subject's own choices, case flags ----

std::string RuleNames(const json::object& d) {
  std::string out;
  for (const auto& r : d.at("rules").as_array()) out += std::string(r.as_string()) + " ";
  return out;
}

TEST(Issue11, AboutNoPersonIsNotAnUnresolvedPerson) {
  auto engine = LoadEngine({kSourceDir + "/policies/uk/strict-firewall"});
  ASSERT_NE(engine, nullptr);
  const std::string stats = R"({"requester": {"org": "ie-stats", "org_type": "home-office-immigration-enforcement", "role": "analyst"},
      "purpose": "statistics", "action": "disclose", "categories": ["nationality"], "legal_basis": "ukgdpr-6-1-e")";
  auto none = ParseRequestText(stats + R"(, "subject": "none"})", engine->schema());
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_TRUE(none->no_subject);
  EXPECT_FALSE(none->has_subject);
  Decision d = engine->Decide(*none);
  EXPECT_TRUE(d.permit);
  // No `subject` at all: the person could not be resolved; A2 matches on the unknown roles.
  auto unresolved = ParseRequestText(stats + "}", engine->schema());
  ASSERT_TRUE(unresolved);
  EXPECT_FALSE(unresolved->no_subject);
  Decision u = engine->Decide(*unresolved);
  EXPECT_FALSE(u.permit);
  EXPECT_FALSE(u.unknown_rules.empty());
  json::object uj = engine->ToJson(u, *unresolved);
  EXPECT_NE(RuleNames(uj).find("A2_no_immigration_relevant_data_to_ie"), std::string::npos) << uj;
  // The wire form round-trips "none".
  std::string back = json::serialize(RequestToJson(*none, engine->schema()));
  EXPECT_NE(back.find(R"("subject":"none")"), std::string::npos) << back;
  // Binding: the gateway marks a request that names nobody.
  Request r = *unresolved;
  BindNoSubject(&r);
  EXPECT_TRUE(engine->Decide(r).permit);
}

TEST(Issue11, TheSubjectsOwnChoiceDecidesX1) {
  auto engine = LoadEngine({kSourceDir + "/policies/uk/npcc-2020"});
  ASSERT_NE(engine, nullptr);
  auto ask = [&](const std::string& recipient, const std::string& chosen) {
    std::string text = R"({"requester": {"org": "her-adviser", "org_type": "immigration-adviser", "role": "caseworker"},
        "purpose": "immigration-application-support", "action": "disclose", "categories": ["identity", "incident", "address"],
        "legal_basis": "consent", "subject": {"roles": ["victim"], "flags": [], "immigration_concern": "self-disclosed",
        "regularisation_pending": false, "subject_initiated": true, "consent_to_ie": false, "cases": [],
        "application": {"recipient": ")" + recipient + R"(", "categories": )" + chosen + "}}}";
    auto r = ParseRequestText(text, engine->schema());
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? engine->ToJson(engine->Decide(*r), *r) : json::object{};
  };
  json::object named = ask("her-adviser", R"(["incident", "address"])");
  EXPECT_EQ(named.at("decision"), "permit") << named;
  EXPECT_EQ(json::serialize(named.at("disclosed")), R"(["address","incident"])") << named;
  EXPECT_EQ(json::serialize(named.at("withheld")), R"(["identity"])") << named;
  json::object other = ask("ukvi-dvilr", R"(["incident", "address"])");
  EXPECT_EQ(other.at("decision"), "deny") << other;
}

TEST(Issue11, NewWireFieldsAreCheckedWithTheirPath) {
  auto engine = LoadEngine({kSourceDir + "/policies/uk/npcc-2020"});
  ASSERT_NE(engine, nullptr);
  const std::string head = R"({"requester": {"org": "o", "org_type": "police-force", "role": "analyst"},
      "purpose": "statistics", "action": "disclose", "categories": [], "legal_basis": "none", "subject": )";
  const std::string subject = R"({"roles": [], "flags": [], "immigration_concern": "none", "regularisation_pending": false,
      "subject_initiated": false, "consent_to_ie": false, )";
  auto error = [&](const std::string& rest) {
    auto r = ParseRequestText(head + rest + "}", engine->schema());
    return r ? std::string("accepted") : r.error().message();
  };
  EXPECT_NE(error(R"("someone")").find("subject: expected a subject object, or \"none\""), std::string::npos);
  EXPECT_NE(error(subject + R"("cases": [{"type": "assault", "status": "charged", "role": "victim", "flags": ["da"]}]})")
                .find("subject.cases[0].flags"),
            std::string::npos);
  EXPECT_NE(error(subject + R"("cases": [], "application": {"recipient": "", "categories": []}})")
                .find("subject.application.recipient"),
            std::string::npos);
  EXPECT_NE(error(subject + R"("cases": [], "application": {"recipient": "x", "categories": ["adress"]}})")
                .find("subject.application.categories"),
            std::string::npos);
  EXPECT_NE(error(subject + R"("cases": [], "application": {"recipient": "x", "categories": [], "by": "me"}})")
                .find("subject.application"),
            std::string::npos);
}

TEST(Issue11, FactsBindCaseFlagsAndChoices) {
  auto engine = LoadEngine({kSourceDir + "/policies/uk/hmicfrs-rec1"});
  ASSERT_NE(engine, nullptr);
  const policy::Schema& schema = engine->schema();
  auto base = ParseRequestText(R"({"requester": {"org": "example-constabulary", "org_type": "police-force", "role": "police-officer"},
      "purpose": "immigration-status-check", "action": "referral", "categories": ["identity", "nationality"],
      "legal_basis": "iaa-1999-s20"})",
                               schema);
  ASSERT_TRUE(base);
  SubjectFacts facts;
  facts.roles = {};
  facts.concern = "doubts-only";
  facts.cases = {{"assault", "under-investigation", "victim", {}}};
  Request plain = *base;
  ASSERT_TRUE(BindSubject(schema, facts, &plain));
  EXPECT_TRUE(engine->Decide(plain).permit);  // a street assault: Recommendation 1 does not apply
  facts.cases[0].flags = {"domestic-abuse"};
  Request flagged = *base;
  ASSERT_TRUE(BindSubject(schema, facts, &flagged));
  EXPECT_EQ(flagged.cases[0].flags, policy::Mask{1} << schema.Find(policy::EnumKind::kFlag, "domestic-abuse"));
  EXPECT_FALSE(engine->Decide(flagged).permit);  // flagged domestic abuse: D2
  facts.cases[0].flags = {"no-such-flag"};
  Request bad = *base;
  auto st = BindSubject(schema, facts, &bad);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("no-such-flag"), std::string::npos);
  facts.cases[0].flags = {};
  facts.application_recipient = "ukvi-dvilr";
  facts.chosen_categories = {"identity", "nope"};
  EXPECT_FALSE(BindSubject(schema, facts, &bad));
}

TEST(ScenarioParser, RejectsMalformedFilesWithLine) {
  auto r = ParseScenarioText("x.fbt", "test t\nrequest {}\ndecision permit\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("x.fbt:"), std::string::npos) << r.error().message();
  auto bad = ParseScenarioText("x.fbt", "test t\nrequest {}\n----\ncolour red\n");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("x.fbt:4: unknown expectation `colour`"), std::string::npos)
      << bad.error().message();
}

TEST(ScenarioRunner, AFailingExpectationFails) {
  auto scenarios = ParseScenarioText(
      kTestData + "/semantics/inline.fbt",
      "test wrong\nrequest {\"requester\": {\"org\": \"o\", \"org_type\": \"local-authority\", "
      "\"role\": \"officer\"}, \"purpose\": \"statistics\", \"action\": \"disclose\", "
      "\"categories\": [\"incident\"], \"legal_basis\": \"ukgdpr-6-1-e\"}\n----\ndecision deny\n"
      "disclosed []\n");
  ASSERT_TRUE(scenarios.has_value()) << scenarios.error().ToString();
  ScenarioRunner runner;
  ScenarioResult r = runner.Run(scenarios->at(0));
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.message.find("decision: expected deny, got permit"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("disclosed: expected [], got [incident]"), std::string::npos) << r.message;
}

TEST(MergeJson, MergesReplacesAndRemoves) {
  json::value base = json::parse(R"({"a": {"b": 1, "c": 2}, "d": [1], "e": 5})");
  MergeJson(base, json::parse(R"({"a": {"b": 9}, "d": [2, 3], "e": null})"));
  EXPECT_EQ(json::serialize(base), R"({"a":{"b":9,"c":2},"d":[2,3]})");
}

// ---- Properties over generated policies ----

// For a generated policy set: laying the same items out in other files and
// orders changes neither the hash nor any decision; and every decision obeys
// the combining rules. Counts the outcomes into `permits` and `denies`.
void CheckGeneratedSet(int seed, int* permits, int* denies) {
  std::string tmp = ::testing::TempDir() + "/fb_generated_" + std::to_string(seed);
  std::string schema_dir = testing::WriteSyntheticSchema(tmp);
  auto schema_engine = LoadEngine({schema_dir});
  ASSERT_NE(schema_engine, nullptr);
  testing::Generator gen(schema_engine->schema(), uint64_t(seed));
  testing::BodyOptions opts;
  // Few forbids: random conditions match often on unknown facts, and each
  // matching forbid hides every permit.
  opts.forbids = 2;
  opts.permits = 20;
  opts.agreements = 5;
  opts.normalisations = 1 + seed % 2;
  std::string body = gen.PolicyBody(opts);
  std::string a = testing::WritePackSplit(tmp, "ordered", schema_dir, body, 1, 0);
  std::string b = testing::WritePackSplit(tmp, "shuffled", schema_dir, body, 3, uint64_t(seed) * 7919);
  auto ea = LoadEngine({a});
  auto eb = LoadEngine({b});
  ASSERT_NE(ea, nullptr);
  ASSERT_NE(eb, nullptr);
  EXPECT_EQ(ea->policy_hash(), eb->policy_hash());
  const policy::PolicySet& set = ea->policy_set();
  for (int i = 0; i < 400; ++i) {
    Request r = gen.RandomRequest(3);
    Decision da = ea->Decide(r);
    Decision db = eb->Decide(r);
    json::object ja = ea->ToJson(da, r), jb = eb->ToJson(db, r);
    ASSERT_EQ(json::serialize(ja), json::serialize(jb)) << "request " << json::serialize(RequestToJson(r, set.schema ? *set.schema : ea->schema()));
    // The tree-free writer prints exactly what the tree serialises to.
    if (i % 3 == 0) r.id = "req \"" + std::to_string(i) + "\"\\\n\x01\x7f\xC3\xA9";
    std::string direct;
    ea->AppendJson(da, r, &direct);
    ASSERT_EQ(direct, json::serialize(ea->ToJson(da, r)));
    // disclosed ⊆ asked, withheld = asked − disclosed.
    EXPECT_EQ(da.disclosed & ~r.categories, 0u);
    EXPECT_EQ(da.withheld, r.categories & ~da.disclosed);
    if (da.conflicting_normalisations) {
      EXPECT_FALSE(da.permit);
      continue;
    }
    bool any_forbid = false, any_permit = false;
    for (const policy::Rule& rule : set.rules) {
      Truth t = ea->Evaluate(rule.cond, r, da.purpose);
      if (policy::IsForbid(rule.kind) && t != Truth::kFalse) any_forbid = true;
      if (!policy::IsForbid(rule.kind) && t == Truth::kTrue) any_permit = true;
    }
    // A matching forbid always denies; no permit means deny; otherwise permit.
    if (any_forbid) {
      EXPECT_FALSE(da.permit);
    }
    if (!any_permit) {
      EXPECT_FALSE(da.permit);
    }
    EXPECT_EQ(da.permit, !any_forbid && any_permit);
    ++*(da.permit ? permits : denies);
  }
}

// AppendJson escapes strings exactly as Boost.JSON's serializer does, for
// every byte.
TEST(AppendJson, EscapesEveryByteAsBoostJsonDoes) {
  auto e = LoadEngine({kTestData + "/schema"});
  ASSERT_NE(e, nullptr);
  Request r;
  Decision d;
  for (int b = 0; b < 256; ++b) {
    r.id = std::string("a") + char(b) + "b" + char(b);
    std::string direct;
    e->AppendJson(d, r, &direct);
    ASSERT_EQ(direct, json::serialize(e->ToJson(d, r))) << "byte " << b;
  }
}

TEST(Generated, CombiningPropertiesHold) {
  int permits = 0, denies = 0;
  for (int seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("generated set, seed " + std::to_string(seed));
    CheckGeneratedSet(seed, &permits, &denies);
  }
  // The sets must exercise both outcomes often, or the properties say little.
  EXPECT_GT(permits, 800) << "permits " << permits << ", denies " << denies;
  EXPECT_GT(denies, 800) << "permits " << permits << ", denies " << denies;
}

// Reformatting a generated pack with the formatter never changes its hash.
TEST(GeneratedFormatting, FormatterKeepsTheHash) {
  auto schema_engine = LoadEngine({kTestData + "/schema"});
  ASSERT_NE(schema_engine, nullptr);
  testing::Generator gen(schema_engine->schema(), 99);
  testing::BodyOptions opts;
  opts.permits = 20;
  opts.forbids = 10;
  std::string tmp = ::testing::TempDir() + "/fb_generated_fmt";
  std::string dir = testing::WritePackSplit(tmp, "p", kTestData + "/schema", gen.PolicyBody(opts), 2, 5);
  auto before = LoadEngine({dir});
  ASSERT_NE(before, nullptr);
  for (const auto& e : fs::directory_iterator(dir)) {
    policy::SourceManager sources;
    policy::DiagnosticSink sink;
    std::ifstream in(e.path());
    std::string text((std::istreambuf_iterator<char>(in)), {});
    policy::Module m = policy::Parse(sources, sources.Add(e.path().string(), text), sink);
    ASSERT_FALSE(sink.has_errors());
    std::ofstream(e.path()) << policy::FormatModule(m);
  }
  auto after = LoadEngine({dir});
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(before->policy_hash(), after->policy_hash());
}

}  // namespace
}  // namespace firebreak::engine
