// Internal: the SMT encoding of a checked policy set (docs/verification.md).
//
// `RequestVars` is a symbolic request: one Z3 constant per field of
// `engine::Request`, with the case list replaced by a fixed number of case
// slots (enough for every quantifier node, which is complete: see
// docs/verification.md "Why the encoding is complete"). `SetEncoding` turns
// one `PolicySet` into Z3 terms over those variables: the Kleene truth of
// every condition, the normalised purpose, the decision, the disclosed and
// withheld categories, the obligations and every guarantee's violation,
// following exactly what `engine::Engine::Decide` does.
//
// Z3 throws `z3::exception`; everything here may throw it. The one seam that
// catches it is `Z3Guard` below: every public entry point of `verify` runs
// its Z3 work inside it, so no exception crosses our APIs.
//
// Thread model: thread-hostile (a Z3 context is single-threaded); each
// public call makes its own context.
#pragma once

#include <z3++.h>

#include <array>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/error.h"
#include "engine/request.h"
#include "policy/ir.h"

namespace firebreak::verify::internal {

// The seam: runs `f` (which returns a `Result<T>`), turning a Z3 exception
// into an `Internal` error.
template <class F>
auto Z3Guard(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const z3::exception& e) {
    return tl::make_unexpected(Internal(std::string("Z3: ") + e.msg()));
  }
}

// A three-valued truth: `t` holds when the condition is true, `f` when it is
// false, neither when it is unknown. Never both.
struct Tri {
  z3::expr t;
  z3::expr f;
};

// One case of the subject's case list.
struct CaseSlot {
  z3::expr present;
  z3::expr type;    // bit-vector, case_type index
  z3::expr status;  // bit-vector, case_status index
  z3::expr role;    // bit-vector, role index
  std::vector<z3::expr> flags;  // one Bool per flag
};

// One declared context value.
struct ContextVars {
  z3::expr present;
  z3::expr boolean;            // kBool
  z3::expr number;             // kInt, kTimestamp (Int)
  z3::expr value;              // kEnum (bit-vector index), kId (bit-vector id index)
  std::vector<z3::expr> bits;  // kEnumSet, one Bool per value
};

// The string identifiers the policy sets compare with (`requester.org`,
// `context.X` of type id), sorted; index `size()` stands for any other.
std::vector<std::string> CollectIds(const std::vector<const policy::PolicySet*>& sets);

// Which purpose a condition reads: normalisation conditions read the
// declared purpose, rules and guarantees the normalised one.
enum class PurposeContext : uint8_t { kDeclared = 0, kEffective = 1 };

// The quantifier instances of `set`: (quantifier node, purpose context) pairs
// reachable from normalisations, rules and guarantees. The encoding needs one
// case slot per instance.
std::vector<std::pair<policy::CondId, PurposeContext>> QuantifierList(const policy::PolicySet& set);
size_t QuantifierInstances(const policy::PolicySet& set);

class RequestVars {
 public:
  RequestVars(z3::context& ctx, const policy::Schema& schema, size_t slots,
              std::vector<std::string> ids);

  z3::context& ctx() const { return *ctx_; }
  const policy::Schema& schema() const { return *schema_; }

  // Well-formedness: enum values in range, absent groups at their defaults,
  // subject.roles ⊇ the roles of present case slots, record.case only with a
  // record, required context values present, numbers in range. Every
  // request `ParseRequest` accepts satisfies it (after `Bindings`).
  z3::expr Domain() const;

  // The request a model describes. Fails with Internal on a value outside
  // the schema (which `Domain` rules out).
  Result<engine::Request> Extract(const z3::model& m) const;

  // The value of every variable for `request`.
  // REQUIRES: request.cases.size() <= slots().size().
  std::vector<std::pair<z3::expr, z3::expr>> Bindings(const engine::Request& request) const;

  // Literals a small, readable request satisfies, most important first
  // (no cases, no flags, no extra roles, few categories, …).
  std::vector<z3::expr> Preferences() const;

  // The literal for an id, or `ids().size()` ("other").
  unsigned IdIndex(const std::string& id) const;
  const std::vector<std::string>& ids() const { return ids_; }
  // A string that is none of the policy's literals, for "other".
  std::string OtherId(const std::string& base) const;

  z3::expr EnumConst(policy::EnumKind k, unsigned value) const;
  z3::expr IdConst(unsigned index) const;
  // `v` ∈ `mask` for an enum bit-vector `v` of kind `k`.
  z3::expr EnumIn(policy::EnumKind k, const z3::expr& v, policy::Mask mask) const;
  unsigned Width(policy::EnumKind k) const { return widths_[size_t(k)]; }

  // The variables. Enums are bit-vectors of the enum's index width, sets one
  // Bool per value, ids bit-vectors over `ids()` plus one.
  z3::expr org, org_type, user_role, purpose, action, legal_basis;
  std::vector<z3::expr> categories;
  z3::expr subject;
  z3::expr no_subject;  // about no person; implies ¬subject
  std::vector<z3::expr> roles, flags;
  z3::expr concern, regularisation_pending, subject_initiated, consent_to_ie;
  // X1: requester.org is the recipient the subject named (the recipient id
  // itself is read by no condition, so a free Bool is exact), and the
  // categories she chose.
  z3::expr named_by_subject;
  std::vector<z3::expr> chosen;
  std::vector<CaseSlot> slots;
  z3::expr record, collected_as, record_case, record_case_type, record_case_status;
  std::vector<ContextVars> context;

 private:
  z3::expr Enum(policy::EnumKind k, const std::string& name);
  std::vector<z3::expr> Set(policy::EnumKind k, const std::string& name);

  z3::context* ctx_;
  const policy::Schema* schema_;
  std::vector<std::string> ids_;
  unsigned id_width_ = 1;
  std::array<unsigned, policy::kEnumKindCount> widths_{};
};

class SetEncoding {
 public:
  // `vars` must outlive this and have at least QuantifierInstances(set) slots.
  SetEncoding(const RequestVars& vars, const policy::PolicySet& set);

  const policy::PolicySet& set() const { return *set_; }

  // The Kleene truth of condition `id` read with `pc`'s purpose.
  Tri Cond(policy::CondId id, PurposeContext pc);

  // A guarantee's condition is true or unknown.
  z3::expr GuaranteeApplies(size_t g);
  // The request violates guarantee `g`.
  z3::expr Violation(size_t g);

  // The decision, as `Engine::Decide` computes it.
  z3::expr effective_purpose;              // bit-vector; meaningful without conflict
  std::vector<z3::expr> norm_applies;      // per normalisation
  z3::expr conflict;                       // conflicting normalisations
  std::vector<z3::expr> rule_matches;      // per rule: forbid true-or-unknown, permit true
  std::vector<z3::expr> rule_unknown;      // per rule: forbid matched on unknown facts
  z3::expr any_forbid, any_permit;         // before the conflict check
  z3::expr denied_by_forbid;               // ¬conflict ∧ any forbid
  z3::expr permit;
  std::vector<z3::expr> disclosed, withheld, obligations;

 private:
  Tri Encode(policy::CondId id, PurposeContext pc, int slot);
  Tri Known(const z3::expr& known, const z3::expr& value) const;

  const RequestVars* v_;
  const policy::PolicySet* set_;
  z3::context& c_;
  std::map<std::tuple<policy::CondId, int, int>, Tri> memo_;
};

}  // namespace firebreak::verify::internal
