// The verifier's API: guarantees of the shipped packs, counterexamples,
// Kleene edge cases, the gate, diff and lint.
#include <set>

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "policy/parser.h"
#include "verify/testing/test_util.h"
#include "verify/verify.h"

namespace firebreak::verify {
namespace {

using engine::Engine;
using engine::Request;

std::shared_ptr<const policy::PolicySet> Uk(const std::string& pack) {
  std::string why;
  auto set = testing::LoadSet({testing::UkDir() + "/" + pack}, &why);
  EXPECT_TRUE(set) << why;
  return set;
}

TEST(Verify, EveryShippedGuaranteeIsProved) {
  size_t total = 0;
  for (const std::string& pack : testing::ShippedPacks()) {
    std::string why;
    auto set = testing::LoadSet({pack}, &why);
    ASSERT_TRUE(set) << why;
    auto report = VerifyGuarantees(set);
    ASSERT_TRUE(report) << report.error().ToString();
    for (const GuaranteeResult& g : report->guarantees) {
      EXPECT_EQ(g.outcome, Outcome::kProved) << pack << ": " << g.name << " " << g.reason;
    }
    total += report->guarantees.size();
    EXPECT_TRUE(CheckDeployable(set)) << pack;
  }
  EXPECT_GE(total, 50u);
}

// A pack over the synthetic schema, written from `body`.
class Crafted : public ::testing::Test {
 protected:
  void SetUp() override { schema_dir_ = testing::WriteSyntheticSchema(dir_.path()); }
  std::shared_ptr<const policy::PolicySet> Make(const std::string& name, const std::string& body) {
    std::string why;
    auto set = testing::LoadSet({testing::WritePack(dir_.path(), name, schema_dir_, body)}, &why);
    EXPECT_TRUE(set) << why << body;
    return set;
  }
  const GuaranteeResult& Find(const VerifyReport& r, const std::string& name) {
    for (const GuaranteeResult& g : r.guarantees) {
      if (g.name == name) return g;
    }
    ADD_FAILURE() << "no guarantee " << name;
    return r.guarantees.front();
  }

  testing::ScratchDir dir_{"crafted"};
  std::string schema_dir_;
};

TEST_F(Crafted, KleeneUnknownFacts) {
  auto set = Make("kleene", R"(
forbid F_victims {
  when subject.roles has victim
  because "f"
}

permit P_all {
  when true
  grant all
  because "p"
}

permit P_pending {
  when subject.regularisation_pending
  grant [identity]
  obligations [hold]
  because "p"
}

guarantee G_no_subject_no_permit {
  never permit when subject is unknown
  because "the forbid matches on unknown roles"
}

guarantee G_victims {
  never permit when subject.roles has victim
  because "g"
}

guarantee G_hold {
  always obligations [hold] when subject.regularisation_pending
  because "P_all matches too, but P_pending is needed only when pending is true"
}

guarantee G_hold_unknown {
  always obligations [hold] when subject.regularisation_pending or subject is unknown
  because "g"
}
)");
  ASSERT_TRUE(set);
  auto report = VerifyGuarantees(set);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(Find(*report, "G_no_subject_no_permit").outcome, Outcome::kProved);
  EXPECT_EQ(Find(*report, "G_victims").outcome, Outcome::kProved);
  EXPECT_EQ(Find(*report, "G_hold").outcome, Outcome::kProved);
  // No subject is denied by F_victims on unknown facts, so the unknown case
  // cannot be permitted either: proved.
  EXPECT_EQ(Find(*report, "G_hold_unknown").outcome, Outcome::kProved);
  EXPECT_TRUE(report->all_proved());

  // Without the forbid, a request with no subject is permitted by P_all; the
  // guarantee counts when its condition is unknown, so it is refuted.
  auto weaker = Make("kleene2", R"(
permit P_all {
  when true
  grant all
  because "p"
}

guarantee G_victims {
  never permit when subject.roles has victim
  because "g"
}
)");
  ASSERT_TRUE(weaker);
  auto r2 = VerifyGuarantees(weaker);
  ASSERT_TRUE(r2) << r2.error().ToString();
  ASSERT_EQ(r2->guarantees[0].outcome, Outcome::kRefuted);
  EXPECT_TRUE(r2->guarantees[0].decision.permit);
  // The smallest counterexample: no subject at all (the condition is unknown).
  EXPECT_FALSE(r2->guarantees[0].counterexample->has_subject);
}

TEST_F(Crafted, CounterexamplesCarryContextValuesAndOtherIds) {
  auto set = Make("context", R"(
permit P_context {
  when context.seen_at > 2024-06-01T12:00:00Z and context.level >= 3 and context.ref == "r1"
      and context.tags has child and context.kind == theft and context.urgent == false
      and requester.org not in ["o1", "o2"]
      and some case where (case.status == charged and case.role == witness)
      and every case where case.type != da
  grant [identity, address]
  withhold [address]
  obligations [notify]
  because "p"
}

guarantee G_never {
  never disclose [identity] when true
  because "g"
}
)");
  ASSERT_TRUE(set);
  auto report = VerifyGuarantees(set);
  ASSERT_TRUE(report) << report.error().ToString();
  const GuaranteeResult& g = report->guarantees[0];
  ASSERT_EQ(g.outcome, Outcome::kRefuted);
  const Request& r = *g.counterexample;
  const policy::Schema& s = *set->schema;
  int64_t cutoff = 0;
  ASSERT_TRUE(policy::ParseTimestamp("2024-06-01T12:00:00Z", &cutoff));
  int ts = s.FindContext("seen_at"), level = s.FindContext("level"), ref = s.FindContext("ref");
  int tags = s.FindContext("tags"), kind = s.FindContext("kind"), urgent = s.FindContext("urgent");
  EXPECT_GT(r.context[size_t(ts)].number, cutoff);
  EXPECT_GE(r.context[size_t(level)].number, 3);
  EXPECT_EQ(r.context[size_t(ref)].id, "r1");
  EXPECT_TRUE(r.context[size_t(tags)].mask >> s.Find(policy::EnumKind::kFlag, "child") & 1);
  EXPECT_EQ(r.context[size_t(kind)].mask, policy::Mask{1} << s.Find(policy::EnumKind::kCaseType, "theft"));
  EXPECT_TRUE(r.context[size_t(urgent)].present);
  EXPECT_FALSE(r.context[size_t(urgent)].boolean);
  EXPECT_NE(r.org, "o1");
  EXPECT_NE(r.org, "o2");
  ASSERT_FALSE(r.cases.empty());
  EXPECT_EQ(g.decision.disclosed, policy::Mask{1} << s.Find(policy::EnumKind::kCategory, "identity"));
  // The wire form round-trips through the parser `firebreak eval` uses.
  std::string json = boost::json::serialize(engine::RequestToJson(r, s));
  auto again = engine::ParseRequestText(json, s);
  ASSERT_TRUE(again) << again.error().message() << json;
  EXPECT_TRUE(Engine::Compile(set)->Decide(*again).permit);
}

TEST_F(Crafted, ConflictingNormalisationsDeny) {
  auto set = Make("conflict", R"(
normalise N_a {
  from [enforce]
  to check
  because "n"
}

normalise N_b {
  from [enforce]
  to support
  when requester.org_type == ie
  because "n"
}

permit P_all {
  when true
  grant all
  because "p"
}

guarantee G_ie_enforce {
  never permit when requester.org_type == ie and declared_purpose == enforce
  because "the normalisations conflict"
}

guarantee G_judged_by_use {
  never permit when purpose == enforce
  because "enforce is always normalised away"
}

guarantee G_police_enforce {
  never permit when requester.org_type == police and declared_purpose == enforce
  because "not true: judged as check and permitted"
}
)");
  ASSERT_TRUE(set);
  auto report = VerifyGuarantees(set);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(Find(*report, "G_ie_enforce").outcome, Outcome::kProved);
  EXPECT_EQ(Find(*report, "G_judged_by_use").outcome, Outcome::kProved);
  const GuaranteeResult& g = Find(*report, "G_police_enforce");
  ASSERT_EQ(g.outcome, Outcome::kRefuted);
  EXPECT_EQ(g.decision.purpose, set->schema->Find(policy::EnumKind::kPurpose, "check"));
}

TEST_F(Crafted, Lint) {
  auto set = Make("lint", R"(
forbid F_never {
  when action == disclose and action == referral
  because "f"
}

forbid F_disclose {
  when action == disclose
  because "f"
}

permit P_overridden {
  when action == disclose and purpose == stats
  grant all
  because "p"
}

permit P_fine {
  when action == referral
  grant all
  because "p"
}

agreement A_old {
  parties [council]
  purposes [safeguard]
  data [identity]
  legal_basis [s35]
  retention "r"
  security "s"
  review 2020-01-01
  owner "o"
  because "a"
}

agreement A_empty {
  parties [council]
  purposes [safeguard]
  data [identity]
  legal_basis [s35]
  retention "r"
  security "s"
  review 2030-01-01
  owner "o"
  when purpose == stats
  because "a"
}

guarantee G_vacuous {
  never permit when subject is known and subject is unknown
  because "g"
}

guarantee G_fine {
  never permit when action == disclose
  because "g"
}
)");
  ASSERT_TRUE(set);
  LintOptions o;
  ASSERT_TRUE(policy::ParseTimestamp("2026-01-01", &o.today));
  auto findings = Lint(set, o);
  ASSERT_TRUE(findings) << findings.error().ToString();
  std::set<std::pair<LintKind, std::string>> got;
  for (const LintFinding& f : *findings) {
    got.insert({f.kind, f.item});
    EXPECT_NE(f.location.find("items.fbp:"), std::string::npos) << f.location;
  }
  std::set<std::pair<LintKind, std::string>> want = {
      {LintKind::kNeverMatches, "F_never"},        {LintKind::kNeverMatches, "A_empty"},
      {LintKind::kAlwaysOverridden, "P_overridden"}, {LintKind::kReviewOverdue, "A_old"},
      {LintKind::kVacuousGuarantee, "G_vacuous"},
  };
  EXPECT_EQ(got, want);
  for (const LintFinding& f : *findings) {
    if (f.kind == LintKind::kAlwaysOverridden) {
      EXPECT_NE(f.message.find("F_disclose"), std::string::npos);
    }
  }
}

TEST(Lint, ShippedAgreementsFallDueForReview) {
  auto set = Uk("strict-firewall");
  ASSERT_TRUE(set);
  LintOptions o;
  ASSERT_TRUE(policy::ParseTimestamp("2026-01-01", &o.today));
  auto now = Lint(set, o);
  ASSERT_TRUE(now) << now.error().ToString();
  for (const LintFinding& f : *now) EXPECT_NE(f.kind, LintKind::kReviewOverdue) << f.message;
  ASSERT_TRUE(policy::ParseTimestamp("2030-01-01", &o.today));
  auto later = Lint(set, o);
  ASSERT_TRUE(later);
  size_t agreements = 0, overdue = 0;
  for (const policy::Rule& r : set->rules) agreements += r.agreement != nullptr;
  for (const LintFinding& f : *later) overdue += f.kind == LintKind::kReviewOverdue;
  EXPECT_EQ(overdue, agreements);
  EXPECT_GT(agreements, 0u);
}

// ---- diff ----

void ExpectWitnessesShowDifferences(const DiffReport& report, std::shared_ptr<const policy::PolicySet> sa,
                                    std::shared_ptr<const policy::PolicySet> sb) {
  const policy::PolicySet& a = *sa;
  auto ea = Engine::Compile(sa);
  auto eb = Engine::Compile(sb);
  for (const DiffKindResult& k : report.kinds) {
    for (size_t i = 0; i < k.witnesses.size(); ++i) {
      const DiffWitness& w = k.witnesses[i];
      std::string json = boost::json::serialize(engine::RequestToJson(w.request, *a.schema));
      auto r = engine::ParseRequestText(json, *a.schema);
      ASSERT_TRUE(r) << json;
      engine::Decision da = ea->Decide(*r), db = eb->Decide(*r);
      switch (k.kind) {
        case DiffKind::kOnlyAPermits: EXPECT_TRUE(da.permit && !db.permit) << json; break;
        case DiffKind::kOnlyBPermits: EXPECT_TRUE(db.permit && !da.permit) << json; break;
        case DiffKind::kDisclosedDiffers:
          EXPECT_TRUE(da.permit && db.permit && da.disclosed != db.disclosed) << json;
          break;
        case DiffKind::kObligationsDiffer:
          EXPECT_TRUE(da.permit == db.permit && da.obligations != db.obligations) << json;
          break;
      }
      EXPECT_FALSE(w.summary.empty());
      // Diverse: each witness differs from the earlier ones of its kind in
      // purpose, requester type, action or subject roles.
      for (size_t j = 0; j < i; ++j) {
        const Request& p = k.witnesses[j].request;
        bool differs = p.purpose != w.request.purpose || p.org_type != w.request.org_type ||
                       p.action != w.request.action || p.has_subject != w.request.has_subject ||
                       p.roles != w.request.roles;
        EXPECT_TRUE(differs) << "witnesses " << j << " and " << i << " of " << DiffKindName(k.kind);
      }
    }
  }
}

TEST(Diff, StrictFirewallAgainstMigrantVictimsProtocol) {
  auto a = Uk("strict-firewall"), b = Uk("migrant-victims-protocol");
  ASSERT_TRUE(a && b);
  DiffOptions o;
  o.label_a = "strict-firewall";
  o.label_b = "migrant-victims-protocol";
  o.max_witnesses = 4;
  auto report = DiffSets(a, b, o);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_FALSE(report->equivalent());
  const DiffKindResult& only_b = report->kinds[size_t(DiffKind::kOnlyBPermits)];
  ASSERT_EQ(only_b.outcome, Outcome::kRefuted);
  EXPECT_GE(only_b.witnesses.size(), 3u);
  EXPECT_NE(only_b.witnesses[0].summary.find("migrant-victims-protocol permits"), std::string::npos)
      << only_b.witnesses[0].summary;
  // The strict firewall permits nothing the protocol denies.
  EXPECT_EQ(report->kinds[size_t(DiffKind::kOnlyAPermits)].outcome, Outcome::kProved);
  ExpectWitnessesShowDifferences(*report, a, b);
}

TEST(Diff, PacksThatDifferInEveryWay) {
  auto a = Uk("npcc-2020"), b = Uk("migrant-victims-protocol-da-only");
  auto c = Uk("migrant-victims-protocol");
  ASSERT_TRUE(a && b && c);
  for (auto [x, y] : {std::pair{a, b}, std::pair{b, c}, std::pair{a, c}}) {
    auto report = DiffSets(x, y, {});
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_FALSE(report->equivalent());
    ExpectWitnessesShowDifferences(*report, x, y);
  }
}

TEST(Diff, EquivalentSets) {
  auto a = Uk("npcc-2020"), b = Uk("npcc-2020-core");
  ASSERT_TRUE(a && b);
  auto report = DiffSets(a, b, {});
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->equivalent());
  auto self = DiffSets(Uk("hmicfrs-rec1"), Uk("hmicfrs-rec1"), {});
  ASSERT_TRUE(self);
  EXPECT_TRUE(self->equivalent());
}

TEST_F(Crafted, DiffNeedsOneSchema) {
  auto synth = Make("one", "permit P {\n  when true\n  grant all\n  because \"p\"\n}\n");
  ASSERT_TRUE(synth);
  auto report = DiffSets(synth, Uk("npcc-2020"), {});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(Crafted, DiffFindsDisclosureAndObligationDifferences) {
  auto a = Make("da", R"(
permit P {
  when action == disclose
  grant [identity, address]
  obligations [notify]
  because "p"
}
)");
  auto b = Make("db", R"(
permit P {
  when action == disclose
  grant [identity]
  obligations [justify]
  because "p"
}
)");
  ASSERT_TRUE(a && b);
  auto report = DiffSets(a, b, {});
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->kinds[size_t(DiffKind::kOnlyAPermits)].outcome, Outcome::kProved);
  EXPECT_EQ(report->kinds[size_t(DiffKind::kOnlyBPermits)].outcome, Outcome::kProved);
  EXPECT_EQ(report->kinds[size_t(DiffKind::kDisclosedDiffers)].outcome, Outcome::kRefuted);
  EXPECT_EQ(report->kinds[size_t(DiffKind::kObligationsDiffer)].outcome, Outcome::kRefuted);
  ExpectWitnessesShowDifferences(*report, a, b);
}

}  // namespace
}  // namespace firebreak::verify
