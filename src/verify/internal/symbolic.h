// Internal: the SMT encoding's decision on one concrete request, for the
// differential tests that compare it with the engine (docs/verification.md
// "Trust in the verifier"). No Z3 types in this header.
//
// Thread model: thread-hostile (owns a Z3 context); one per thread.
#pragma once

#include <memory>
#include <vector>

#include "base/error.h"
#include "engine/request.h"
#include "policy/ir.h"

namespace firebreak::verify::internal {

struct SymbolicDecision {
  bool in_domain = false;  // the request satisfies RequestVars::Domain()
  bool conflict = false;
  bool permit = false;
  policy::Mask disclosed = 0, withheld = 0, obligations = 0;
  uint8_t purpose = 0;                  // effective purpose (without conflict)
  std::vector<uint32_t> rules;          // the rules the engine would name, ascending
  std::vector<uint32_t> unknown_rules;  // forbids among them matching on unknown facts
  // Per quantifier instance: none; per guarantee: does the request violate it.
  std::vector<bool> violations;
};

class SymbolicEvaluator {
 public:
  // The encoding of `set` with at least `min_slots` case slots.
  static Result<std::unique_ptr<SymbolicEvaluator>> Create(std::shared_ptr<const policy::PolicySet> set,
                                                           size_t min_slots);
  ~SymbolicEvaluator();

  // Evaluates the encoding's terms under the model that assigns `request`.
  // REQUIRES: request.cases.size() <= slots().
  Result<SymbolicDecision> Evaluate(const engine::Request& request);

  // Asserts `request`'s values in the solver, checks, and reads the decision
  // from the solver's model (slower; the solver's own view).
  Result<SymbolicDecision> Solve(const engine::Request& request);

  // Requests that make each rule match, each normalisation apply and each
  // guarantee's condition hold on a permit (one each, when there is one):
  // seeds for mutation, near the policy's boundaries.
  Result<std::vector<engine::Request>> Seeds();

  size_t slots() const;

  // The quantifier instances of the set: (node, reads the declared purpose).
  static std::vector<std::pair<policy::CondId, bool>> QuantifierNodes(const policy::PolicySet& set);

 private:
  struct Impl;
  explicit SymbolicEvaluator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak::verify::internal
