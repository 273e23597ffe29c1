// Front door of `verify`: proves a policy set's guarantees for every possible
// request with Z3 (or refutes one with a concrete counterexample request),
// compares two policy sets over all requests, lints a set, and is the
// deployment gate the gateway calls before it enforces a set.
//
// Error model: a refuted guarantee, a difference or a lint finding is a
// value. `Error` is for infrastructure: `Internal` when Z3 fails or when the
// engine does not confirm a counterexample (a bug in one of them: fail
// loudly), `InvalidArgument` for sets that cannot be compared. Z3 answering
// `unknown` is an `unknown` outcome with Z3's reason, never a pass; the gate
// turns it into `Unavailable`. Z3's exceptions never leave this component.
// Thread model: thread-safe; every call builds its own Z3 context.
//
//   FB_ASSIGN_OR_RETURN(VerifyReport report, VerifyGuarantees(loaded.set));
//   for (const GuaranteeResult& g : report.guarantees) ...;
//   FB_RETURN_IF_ERROR(CheckDeployable(loaded.set));  // gateway load/reload
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/engine.h"
#include "engine/request.h"
#include "policy/ir.h"

namespace firebreak::verify {

struct Options {
  // Per solver query; 0 means no limit. A query that times out is `unknown`.
  uint32_t timeout_ms = 30000;
  // Make counterexamples and witnesses small (no cases, flags, roles or
  // categories the violation does not need) so a person can read them.
  bool minimise = true;
};

enum class Outcome : uint8_t { kProved, kRefuted, kUnknown };
const char* OutcomeName(Outcome o);  // "proved", "refuted", "unknown"

struct GuaranteeResult {
  std::string name;
  Outcome outcome = Outcome::kUnknown;
  // When refuted: a request in violation, already replayed through the
  // engine (`decision` is the engine's), in the form `RequestToJson` prints.
  std::optional<engine::Request> counterexample;
  engine::Decision decision;
  std::string reason;  // when unknown: Z3's reason
  double millis = 0;   // solving (and replaying) this guarantee
};

struct VerifyReport {
  std::vector<GuaranteeResult> guarantees;  // in the set's order (by name)
  double encode_millis = 0;                 // building the encoding, once per set
  bool all_proved() const;
};

// Proves or refutes every guarantee of `set`.
[[nodiscard]] Result<VerifyReport> VerifyGuarantees(std::shared_ptr<const policy::PolicySet> set,
                                                    const Options& options = {});

// The deployment gate: OK only when every guarantee of `set` is proved.
// `FailedPrecondition` names the refuted guarantees; `Unavailable` the ones Z3
// could not decide. The gateway keeps its previous policy on any error.
[[nodiscard]] Status CheckDeployable(std::shared_ptr<const policy::PolicySet> set,
                                     const Options& options = {});

// ---- diff ----

enum class DiffKind : uint8_t {
  kOnlyAPermits,        // A permits what B denies
  kOnlyBPermits,        // B permits what A denies
  kDisclosedDiffers,    // both permit, different categories disclosed
  kObligationsDiffer,   // same decision, different obligations
};
inline constexpr size_t kDiffKindCount = 4;
const char* DiffKindName(DiffKind k);

struct DiffWitness {
  DiffKind kind = DiffKind::kOnlyAPermits;
  engine::Request request;
  engine::Decision a, b;  // the engines' decisions, which show the difference
  std::string summary;    // one sentence a DPO can read
};

struct DiffKindResult {
  DiffKind kind = DiffKind::kOnlyAPermits;
  // kProved: no request differs in this way; kRefuted: witnesses found;
  // kUnknown: Z3 could not decide (`reason`).
  Outcome outcome = Outcome::kUnknown;
  std::vector<DiffWitness> witnesses;
  std::string reason;
};

struct DiffOptions : Options {
  size_t max_witnesses = 3;  // per kind
  std::string label_a = "A", label_b = "B";  // names used in summaries
};

struct DiffReport {
  std::array<DiffKindResult, kDiffKindCount> kinds;
  double millis = 0;
  // Every kind proved absent.
  bool equivalent() const;
  bool any_unknown() const;
};

// Compares `a` and `b` over all requests. Witnesses of one kind differ from
// each other in purpose, requester type, action or subject roles.
// `InvalidArgument` when the sets do not share one schema.
[[nodiscard]] Result<DiffReport> DiffSets(std::shared_ptr<const policy::PolicySet> a,
                                          std::shared_ptr<const policy::PolicySet> b,
                                          const DiffOptions& options = {});

// ---- lint ----

enum class LintKind : uint8_t {
  kNeverMatches,        // no request makes the rule match
  kAlwaysOverridden,    // a permit every one of whose requests a forbid denies
  kReviewOverdue,       // an agreement past its review date
  kVacuousGuarantee,    // a guarantee whose condition can never hold
  kUnknown,             // Z3 could not decide a lint question
};
const char* LintKindName(LintKind k);

struct LintFinding {
  LintKind kind = LintKind::kNeverMatches;
  std::string item;      // rule, agreement or guarantee name
  std::string location;  // "file:line:col"
  std::string message;
};

struct LintOptions : Options {
  int64_t today = 0;  // Unix seconds; agreements reviewed before this are overdue
};

[[nodiscard]] Result<std::vector<LintFinding>> Lint(std::shared_ptr<const policy::PolicySet> set,
                                                    const LintOptions& options);

// ---- words ----

// "a witness in a concluded burglary case", "no identified person", … for
// summaries and the CLI.
// `effective_purpose` (after normalisation), when given and different from
// the declared one, is mentioned ("for prosecution, judged as …").
std::string DescribeRequest(const engine::Request& r, const policy::Schema& s, int effective_purpose = -1);
// "permit (X2_marac_safeguarding): discloses [identity]; obligations [minimise]".
std::string DescribeDecision(const engine::Decision& d, const policy::PolicySet& set);

// Whether the engine's decision `d` on request `r` violates guarantee `g`:
// the guarantee's condition is true or unknown on `r` (under the decision's
// effective purpose) and the decision does what the guarantee forbids. The
// verifier checks every counterexample with this before reporting it.
bool EngineViolates(const engine::Engine& e, const policy::Guarantee& g,
                    const engine::Request& r, const engine::Decision& d);

}  // namespace firebreak::verify
