// The gateway's fact resolution (issue 11): what the store knows is bound
// into the engine's request — a case's flags, the subject's own application
// choice — and a request that names nobody is told apart from a subject the
// store cannot find. Runs `Resolve` and `Evaluate` over an in-memory store,
// without a server.
#include "gateway/internal/pipeline.h"

#include <gtest/gtest.h>

#include "policy/policy.h"

namespace firebreak::gateway::internal {
namespace {

const std::string kUk = std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/";

std::shared_ptr<const engine::Engine> Load(const std::string& pack) {
  auto loaded = policy::LoadPolicySet({kUk + pack});
  EXPECT_TRUE(loaded && loaded->ok());
  if (!loaded || !loaded->ok()) return nullptr;
  return engine::Engine::Compile(loaded->set);
}

class FactResolution : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::NewMemoryStore();
    for (auto [field, category] : {std::pair{"address_line", "address"}, {"given_name", "identity"},
                                   {"offence", "incident"}, {"outcome", "case-outcome"}}) {
      ASSERT_TRUE(store_->SetFieldCategory(field, category));
      fields_[field] = category;
    }
    // A victim of an assault the records system flags as domestic abuse.
    store::Subject s;
    s.reference = "FLAGGED";
    s.concern = "doubts-only";
    auto id = store_->AddSubject(s);
    ASSERT_TRUE(id);
    ASSERT_TRUE(store_->PutCase({"CR-1", "assault", "under-investigation", {"domestic-abuse"}}));
    ASSERT_TRUE(store_->AddParticipant("CR-1", *id, "victim"));
    // A victim who asked for evidence to go to her adviser.
    store::Subject v;
    v.reference = "CHOSE";
    v.concern = "self-disclosed";
    v.subject_initiated = true;
    v.application = store::ApplicationChoice{"her-adviser", {"incident", "case-outcome"}, "PC 1", "2026-10-02"};
    auto vid = store_->AddSubject(v);
    ASSERT_TRUE(vid);
    ASSERT_TRUE(store_->PutCase({"CR-2", "domestic-abuse", "concluded"}));
    ASSERT_TRUE(store_->AddParticipant("CR-2", *vid, "victim"));
    store::Record r;
    r.subject_id = *vid;
    r.kind = "victim-statement";
    r.collected_as = "victim";
    r.case_id = "CR-2";
    r.fields = {{"given_name", "V"}, {"address_line", "1 High Street"}, {"offence", "domestic-abuse"},
                {"outcome", "convicted"}};
    ASSERT_TRUE(store_->AddRecord(r));
  }

  Merged Run(const engine::Engine& e, const std::string& wire, CallerRequest::SubjectBy by,
             const std::string& reference) {
    auto base = engine::ParseRequestText(wire, e.schema());
    EXPECT_TRUE(base) << base.error().ToString();
    CallerRequest caller;
    caller.by = by;
    caller.reference = reference;
    auto res = Resolve(*store_, caller);
    EXPECT_TRUE(res) << res.error().ToString();
    auto merged = Evaluate(e, *base, *res, fields_);
    EXPECT_TRUE(merged) << merged.error().ToString();
    return merged ? *merged : Merged{};
  }

  std::unique_ptr<store::Store> store_;
  FieldMap fields_;
};

TEST_F(FactResolution, ACaseFlagMakesADomesticAbuseCase) {
  auto e = Load("hmicfrs-rec1");
  ASSERT_NE(e, nullptr);
  Merged m = Run(*e, R"({"requester": {"org": "f", "org_type": "police-force", "role": "police-officer"},
      "purpose": "immigration-status-check", "action": "referral", "categories": ["identity"], "legal_basis": "iaa-1999-s20"})",
                 CallerRequest::SubjectBy::kReference, "FLAGGED");
  EXPECT_FALSE(m.permit);
  ASSERT_FALSE(m.rules.empty());
  EXPECT_EQ(m.rules[0], "D2_no_sharing_on_doubts_about_da_victim");
}

TEST_F(FactResolution, TheApplicationChoiceComesFromTheStore) {
  auto e = Load("npcc-2020");
  ASSERT_NE(e, nullptr);
  const std::string ask = R"({"requester": {"org": "ORG", "org_type": "immigration-adviser", "role": "caseworker"},
      "purpose": "immigration-application-support", "action": "disclose", "categories": ["identity", "address", "incident", "case-outcome"],
      "legal_basis": "consent"})";
  auto as = [&](const std::string& org) {
    std::string w = ask;
    w.replace(w.find("ORG"), 3, org);
    return w;
  };
  Merged named = Run(*e, as("her-adviser"), CallerRequest::SubjectBy::kReference, "CHOSE");
  EXPECT_TRUE(named.permit);
  EXPECT_EQ(e->schema().Names(policy::EnumKind::kCategory, named.disclosed),
            (std::vector<std::string>{"incident", "case-outcome"}));
  Merged other = Run(*e, as("another-adviser"), CallerRequest::SubjectBy::kReference, "CHOSE");
  EXPECT_FALSE(other.permit);
}

TEST_F(FactResolution, NoSubjectIsNotAnUnresolvedSubject) {
  auto e = Load("strict-firewall");
  ASSERT_NE(e, nullptr);
  const std::string stats = R"({"requester": {"org": "ie", "org_type": "home-office-immigration-enforcement", "role": "analyst"},
      "purpose": "statistics", "action": "disclose", "categories": ["nationality"], "legal_basis": "ukgdpr-6-1-e"})";
  // The caller named nobody: statistics about no person are permitted.
  Merged none = Run(*e, stats, CallerRequest::SubjectBy::kNone, "");
  EXPECT_TRUE(none.permit);
  ASSERT_FALSE(none.evaluations.empty());
  EXPECT_TRUE(none.evaluations[0].request.no_subject);
  // The caller named someone the store does not hold: refused (fail closed).
  Merged unresolved = Run(*e, stats, CallerRequest::SubjectBy::kReference, "NO-SUCH-REF");
  EXPECT_FALSE(unresolved.permit);
}

}  // namespace
}  // namespace firebreak::gateway::internal
