// The differential check shared by the tests and the long-run benchmark:
// the engine's decision against the SMT encoding's decision on the same
// concrete request (decision, disclosed, withheld, obligations, effective
// purpose, deciding rules, rules matched on unknown facts, and every
// guarantee's violation).
//
// Thread model: thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "verify/internal/symbolic.h"

namespace firebreak::verify::testing {

inline constexpr size_t kMaxCases = 3;

// A description of every difference on `r`, or "" when they agree. With
// `solve`, the encoding's decision comes from the solver's model with the
// request's values asserted; otherwise from evaluating the terms.
std::string Compare(const engine::Engine& e, internal::SymbolicEvaluator& sym, const engine::Request& r,
                    bool solve);

// What the requests exercised, so a test can insist the comparison meant
// something.
struct Coverage {
  size_t permits = 0, forbids = 0, defaults = 0, conflicts = 0, unknown_forbids = 0, violations = 0;
};

// Runs `n` requests (a third uniform, the rest mutations of solver-made
// seeds that make each rule match) through both; every 64th through the
// solver. Returns the first disagreement, or "".
std::string RunDifferential(std::shared_ptr<const policy::PolicySet> set, uint64_t seed, size_t n,
                            Coverage* cov);

}  // namespace firebreak::verify::testing
