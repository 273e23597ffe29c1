#include "verify/testing/differential.h"

#include <algorithm>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "verify/testing/test_util.h"

namespace firebreak::verify::testing {

using engine::Decision;
using engine::Engine;
using engine::Request;
using internal::SymbolicEvaluator;

std::string Compare(const Engine& e, SymbolicEvaluator& sym, const Request& r, bool solve) {
  const policy::PolicySet& set = e.policy_set();
  Decision d = e.Decide(r);
  auto sd = solve ? sym.Solve(r) : sym.Evaluate(r);
  if (!sd) return "symbolic evaluation failed: " + sd.error().ToString();
  std::vector<std::string> diffs;
  auto check = [&](bool same, const std::string& what) {
    if (!same) diffs.push_back(what);
  };
  check(sd->in_domain, "request outside the encoding's domain");
  check(d.conflicting_normalisations == sd->conflict, "conflict");
  check(d.permit == sd->permit, fmt::format("permit engine={} smt={}", d.permit, sd->permit));
  check(d.disclosed == sd->disclosed, fmt::format("disclosed engine={:#x} smt={:#x}", d.disclosed, sd->disclosed));
  check(d.withheld == sd->withheld, fmt::format("withheld engine={:#x} smt={:#x}", d.withheld, sd->withheld));
  check(d.obligations == sd->obligations,
        fmt::format("obligations engine={:#x} smt={:#x}", d.obligations, sd->obligations));
  if (!d.conflicting_normalisations) {
    check(d.purpose == sd->purpose, fmt::format("purpose engine={} smt={}", d.purpose, sd->purpose));
  }
  std::vector<uint32_t> rules = d.rules, unknown = d.unknown_rules;
  std::sort(rules.begin(), rules.end());
  std::sort(unknown.begin(), unknown.end());
  check(rules == sd->rules, "deciding rules");
  check(unknown == sd->unknown_rules, "rules matched on unknown facts");
  for (size_t g = 0; g < set.guarantees.size(); ++g) {
    bool ev = EngineViolates(e, set.guarantees[g], r, d);
    check(ev == sd->violations[g], fmt::format("violation of {} engine={} smt={}", set.guarantees[g].name, ev,
                                               bool(sd->violations[g])));
  }
  if (diffs.empty()) return "";
  return fmt::format("{} on {}\nengine: {}", fmt::join(diffs, "; "),
                     boost::json::serialize(engine::RequestToJson(r, *set.schema)),
                     boost::json::serialize(e.ToJson(d, r)));
}

std::string RunDifferential(std::shared_ptr<const policy::PolicySet> set, uint64_t seed, size_t n,
                            Coverage* cov) {
  auto engine = Engine::Compile(set);
  auto sym = SymbolicEvaluator::Create(set, kMaxCases);
  if (!sym) return sym.error().ToString();
  auto seeds = (*sym)->Seeds();
  if (!seeds) return seeds.error().ToString();
  Generator gen(*set->schema, seed);
  for (size_t i = 0; i < n; ++i) {
    Request r;
    if (seeds->empty() || i % 3 == 0) {
      r = gen.RandomRequest(kMaxCases);
    } else {
      r = (*seeds)[i % seeds->size()];
      if (r.cases.size() > kMaxCases) r.cases.resize(kMaxCases);
      gen.Mutate(r, kMaxCases);
    }
    std::string diff = Compare(*engine, **sym, r, i % 64 == 0);
    if (!diff.empty()) return fmt::format("request {}: {}", i, diff);
    Decision d = engine->Decide(r);
    if (d.conflicting_normalisations) ++cov->conflicts;
    else if (d.permit) ++cov->permits;
    else if (d.rules.empty()) ++cov->defaults;
    else ++cov->forbids;
    if (!d.unknown_rules.empty()) ++cov->unknown_forbids;
    for (const policy::Guarantee& g : set->guarantees) {
      if (EngineViolates(*engine, g, r, d)) ++cov->violations;
    }
  }
  return "";
}

}  // namespace firebreak::verify::testing
