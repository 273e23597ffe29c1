// Differential tests: the engine's decision equals the SMT encoding's decision
// on the same concrete request, for the shipped packs and for generated
// policy sets; and the case-slot reduction that makes the encoding complete
// keeps every decision. FIREBREAK_DIFF_REQUESTS sets the number of requests
// per pack (CI default: a few thousand; the benchmark target runs 1,000,000).
#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "verify/internal/symbolic.h"
#include "verify/testing/differential.h"
#include "verify/testing/test_util.h"
#include "verify/verify.h"

namespace firebreak::verify {
namespace {

using engine::Decision;
using engine::Engine;
using engine::Request;
using internal::SymbolicDecision;
using internal::SymbolicEvaluator;
using testing::Generator;

size_t RequestCount(size_t fallback) {
  if (const char* e = std::getenv("FIREBREAK_DIFF_REQUESTS")) return std::strtoull(e, nullptr, 10);
  return fallback;
}

using testing::Compare;
using testing::Coverage;
using testing::kMaxCases;

::testing::AssertionResult AgreeOn(std::shared_ptr<const policy::PolicySet> set, uint64_t seed,
                                           size_t n, Coverage* cov) {
  std::string failure = testing::RunDifferential(std::move(set), seed, n, cov);
  if (failure.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << failure;
}

TEST(Differential, ShippedPacksAgreeWithEngine) {
  std::vector<std::string> packs = testing::ShippedPacks();
  ASSERT_GE(packs.size(), 8u);
  size_t n = RequestCount(3000);
  for (size_t p = 0; p < packs.size(); ++p) {
    std::string why;
    auto set = testing::LoadSet({packs[p]}, &why);
    ASSERT_TRUE(set) << packs[p] << ": " << why;
    Coverage cov;
    EXPECT_TRUE(AgreeOn(set, 1000 + p, n, &cov)) << packs[p];
    // The comparison means something only if both sides were exercised.
    EXPECT_GT(cov.permits, n / 100) << packs[p];
    EXPECT_GT(cov.defaults, 0u) << packs[p];
    if (std::any_of(set->rules.begin(), set->rules.end(), [](const policy::Rule& r) { return IsForbid(r.kind); })) {
      EXPECT_GT(cov.forbids, 0u) << packs[p];
    }
    // Shipped guarantees are proved, so no request may violate one.
    EXPECT_EQ(cov.violations, 0u) << packs[p];
  }
}

// Generated policy sets over a synthetic schema with every context type.
class GeneratedSets : public ::testing::Test {
 protected:
  void SetUp() override { schema_dir_ = testing::WriteSyntheticSchema(dir_.path()); }

  std::shared_ptr<const policy::PolicySet> Make(uint64_t seed, const testing::BodyOptions& o) {
    std::string why;
    auto schema = testing::LoadSet({schema_dir_}, &why);
    EXPECT_TRUE(schema) << why;
    if (!schema) return nullptr;
    Generator gen(*schema->schema, seed);
    std::string body = gen.PolicyBody(o);
    std::string pack = testing::WritePack(dir_.path(), fmt::format("gen{}", seed), schema_dir_, body);
    auto set = testing::LoadSet({pack}, &why);
    EXPECT_TRUE(set) << "generated pack does not load:\n" << why << "\n" << body;
    return set;
  }

  testing::ScratchDir dir_{"generated"};
  std::string schema_dir_;
};

TEST_F(GeneratedSets, AgreeWithEngine) {
  size_t sets = 40, n = std::max<size_t>(RequestCount(3000) / 10, 50);
  Coverage total;
  for (uint64_t seed = 1; seed <= sets; ++seed) {
    testing::BodyOptions o;
    o.normalisations = int(seed % 4);
    auto set = Make(seed, o);
    ASSERT_TRUE(set);
    Coverage cov;
    ASSERT_TRUE(AgreeOn(set, seed, n, &cov)) << "seed " << seed;
    total.permits += cov.permits;
    total.forbids += cov.forbids;
    total.conflicts += cov.conflicts;
    total.unknown_forbids += cov.unknown_forbids;
    total.violations += cov.violations;
  }
  EXPECT_GT(total.permits, 0u);
  EXPECT_GT(total.forbids, 0u);
  EXPECT_GT(total.conflicts, 0u);
  EXPECT_GT(total.unknown_forbids, 0u);
  EXPECT_GT(total.violations, 0u);
}

// Every guarantee of a generated set is proved or refuted; refutations are
// replayed through the engine (inside VerifyGuarantees, and here again), and
// no random request violates a proved one.
TEST_F(GeneratedSets, VerdictsHoldOnTheEngine) {
  size_t proved = 0, refuted = 0;
  for (uint64_t seed = 100; seed < 130; ++seed) {
    auto set = Make(seed, {});
    ASSERT_TRUE(set);
    auto report = VerifyGuarantees(set);
    ASSERT_TRUE(report) << report.error().ToString();
    auto engine = Engine::Compile(set);
    Generator gen(*set->schema, seed);
    std::vector<Request> requests;
    for (int i = 0; i < 300; ++i) requests.push_back(gen.RandomRequest(kMaxCases));
    for (size_t g = 0; g < report->guarantees.size(); ++g) {
      const GuaranteeResult& res = report->guarantees[g];
      ASSERT_NE(res.outcome, Outcome::kUnknown) << res.name << ": " << res.reason;
      if (res.outcome == Outcome::kRefuted) {
        ++refuted;
        ASSERT_TRUE(res.counterexample);
        auto again = engine::ParseRequest(engine::RequestToJson(*res.counterexample, *set->schema), *set->schema);
        ASSERT_TRUE(again);
        EXPECT_TRUE(testing::EngineViolates(*engine, set->guarantees[g], *again, engine->Decide(*again)))
            << res.name;
      } else {
        ++proved;
        for (const Request& r : requests) {
          ASSERT_FALSE(testing::EngineViolates(*engine, set->guarantees[g], r, engine->Decide(r)))
              << "proved guarantee " << res.name << " violated by "
              << boost::json::serialize(engine::RequestToJson(r, *set->schema));
        }
      }
    }
  }
  EXPECT_GT(proved, 0u);
  EXPECT_GT(refuted, 0u);
}

// The completeness argument (docs/verification.md): for any list of cases,
// keeping one witness case per quantifier instance keeps every decision. The
// witnesses are chosen with the engine alone; the reduced request then fits
// the encoding's slots, and the encoding decides it as the engine decides
// the full request.
::testing::AssertionResult CheckReduction(std::shared_ptr<const policy::PolicySet> set, uint64_t seed, size_t n) {
  auto engine = Engine::Compile(set);
  auto quantifiers = SymbolicEvaluator::QuantifierNodes(*set);
  auto sym = SymbolicEvaluator::Create(set, 0);
  if (!sym) return ::testing::AssertionFailure() << sym.error().ToString();
  Generator gen(*set->schema, seed);
  size_t reduced_some = 0;
  for (size_t i = 0; i < n; ++i) {
    Request r = gen.RandomRequest(6);
    Decision d = engine->Decide(r);
    std::vector<bool> keep(r.cases.size(), false);
    for (auto [q, declared] : quantifiers) {
      bool some = set->cond(q).op == policy::CondOp::kSome;
      uint8_t purpose = declared ? r.purpose : d.purpose;
      int best = -1;
      int best_rank = 0;  // 2: decisive value, 1: unknown
      for (size_t c = 0; c < r.cases.size(); ++c) {
        Request one = r;
        one.cases = {r.cases[c]};
        engine::Truth t = engine->Evaluate(q, one, purpose);
        int rank = t == engine::Truth::kUnknown ? 1 : (t == (some ? engine::Truth::kTrue : engine::Truth::kFalse) ? 2 : 0);
        if (rank > best_rank) {
          best_rank = rank;
          best = int(c);
        }
      }
      if (best >= 0) keep[size_t(best)] = true;
    }
    Request small = r;
    small.cases.clear();
    for (size_t c = 0; c < r.cases.size(); ++c) {
      if (keep[c]) small.cases.push_back(r.cases[c]);
    }
    if (small.cases.size() < r.cases.size()) ++reduced_some;
    Decision ds = engine->Decide(small);
    std::string json = boost::json::serialize(engine::RequestToJson(r, *set->schema));
    if (ds.permit != d.permit || ds.disclosed != d.disclosed || ds.withheld != d.withheld ||
        ds.obligations != d.obligations || ds.rules != d.rules ||
        ds.conflicting_normalisations != d.conflicting_normalisations) {
      return ::testing::AssertionFailure() << "reduction changed the decision of " << json;
    }
    for (const policy::Guarantee& g : set->guarantees) {
      if (testing::EngineViolates(*engine, g, r, d) != testing::EngineViolates(*engine, g, small, ds)) {
        return ::testing::AssertionFailure() << "reduction changed " << g.name << " on " << json;
      }
    }
    auto sd = (*sym)->Evaluate(small);
    if (!sd) return ::testing::AssertionFailure() << sd.error().ToString();
    if (sd->permit != d.permit || sd->disclosed != d.disclosed || sd->obligations != d.obligations) {
      return ::testing::AssertionFailure() << "encoding of the reduced request differs from the engine on " << json;
    }
  }
  if (!quantifiers.empty() && reduced_some == 0) {
    return ::testing::AssertionFailure() << "no request was reduced: the test exercised nothing";
  }
  return ::testing::AssertionSuccess();
}

TEST(Differential, CaseSlotReductionOnShippedPacks) {
  size_t n = std::max<size_t>(RequestCount(3000) / 3, 100);
  for (const std::string& pack : testing::ShippedPacks()) {
    std::string why;
    auto set = testing::LoadSet({pack}, &why);
    ASSERT_TRUE(set) << why;
    EXPECT_TRUE(CheckReduction(set, 7, n)) << pack;
  }
}

TEST_F(GeneratedSets, CaseSlotReduction) {
  for (uint64_t seed = 200; seed < 220; ++seed) {
    auto set = Make(seed, {});
    ASSERT_TRUE(set);
    EXPECT_TRUE(CheckReduction(set, seed, 200)) << "seed " << seed;
  }
}

// The differential check can fail: an encoding of a different policy set
// disagrees with the engine.
TEST(Differential, DetectsADisagreement) {
  std::string why;
  auto strict = testing::LoadSet({testing::UkDir() + "/strict-firewall"}, &why);
  ASSERT_TRUE(strict) << why;
  auto npcc = testing::LoadSet({testing::UkDir() + "/npcc-2020"}, &why);
  ASSERT_TRUE(npcc) << why;
  auto engine = Engine::Compile(npcc);
  auto sym = SymbolicEvaluator::Create(strict, kMaxCases);
  ASSERT_TRUE(sym);
  // Row 4 of the scenario matrix: IE locates a witness; Pack B permits, A denies.
  auto r = engine::ParseRequestText(
      R"({"requester":{"org":"ie","org_type":"home-office-immigration-enforcement","role":"immigration-officer"},
          "purpose":"immigration-enforcement","action":"disclose","categories":["address"],"legal_basis":"iaa-1999-s20",
          "subject":{"roles":["witness"],"flags":[],"immigration_concern":"none","regularisation_pending":false,
                     "subject_initiated":false,"consent_to_ie":false,
                     "cases":[{"type":"burglary","status":"concluded","role":"witness"}]},"context":{}})",
      *npcc->schema);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(engine->Decide(*r).permit);
  EXPECT_NE(Compare(*engine, **sym, *r, false), "");
  EXPECT_NE(Compare(*engine, **sym, *r, true), "");
}

}  // namespace
}  // namespace firebreak::verify
