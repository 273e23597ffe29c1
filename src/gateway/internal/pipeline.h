// The stages of one disclosure or decision, in the order data flows
// (DESIGN §4), each a function of its inputs: the caller's request
// (wire.h) → the subject resolved from the store, never from the caller
// (`Resolve`) → one evaluation per source record holding an asked-for
// category, merged (`Evaluate`) → the shadow candidate's comparison
// (`ShadowDiffers`) → the log entry (`DecisionEntry`) → the answer, with
// only the permitted fields (`RenderDisclosure`, `RenderDecision`).
// `api/disclosures.cc` runs them and appends the entry between the last two.
//
// Error model: `Error`s are infrastructure failures (store, policy data):
// the request fails closed. Caller mistakes never get this far (wire.h).
// Thread model: free functions, thread-safe on distinct arguments.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "engine/engine.h"
#include "entry/entry.h"
#include "gateway/internal/wire.h"
#include "store/store.h"

namespace firebreak::gateway::internal {

// Field name → category name (the store's field map).
using FieldMap = std::map<std::string, std::string>;

// The subject as the store knows it: found (with its cases and records), or
// not, and why not.
struct Resolution {
  std::optional<store::Subject> subject;
  std::string unresolved;  // "", "unknown-reference", "no-identity-match", "ambiguous-identity"
  bool about_no_one = false;  // the caller named no subject: `subject is none`
  std::vector<store::Participation> cases;
  std::vector<store::Record> records;
};
Result<Resolution> Resolve(store::Store& store, const CallerRequest& caller);

// One evaluation: a source record (or none) and the decision on it.
struct Evaluation {
  const store::Record* record = nullptr;
  policy::Mask record_categories = 0;
  engine::Request request;
  engine::Decision decision;
  std::vector<std::string> rules, reasons;
};

struct Merged {
  bool permit = false;
  policy::Mask asked = 0, disclosed = 0, withheld = 0, obligations = 0;
  std::vector<Evaluation> evaluations;
  std::vector<std::string> rules, reasons;  // of the evaluations that decided, deduplicated
  uint8_t purpose = 0, declared_purpose = 0;
};

// Whether every decision entry's sealed part fits its fixed size under
// `engine`'s schema, whatever the subject (cases, records and rules are
// trimmed; the rest is not): checked when a policy loads, so that no
// subject's entry can fail (and its refusal differ) at run time.
Status CheckSealedFits(const engine::Engine& engine);

// Decides `base` (the caller's request in the engine's form) about the
// resolved subject once per record holding an asked-for category
// (provenance, DESIGN §2), or once without a record when none does, and
// merges: permit if any evaluation permits; disclosed = the union of what
// the permitting evaluations disclose. An unresolved subject is denied (X4,
// fail closed) without evaluating. `resolution` must outlive the result.
Result<Merged> Evaluate(const engine::Engine& engine, const engine::Request& base,
                        const Resolution& resolution, const FieldMap& field_map);

// Whether the shadow candidate's merged decision differs from the live one
// (decision, disclosed categories or obligations, by name).
bool ShadowDiffers(const policy::Schema& live_schema, const Merged& live,
                   const policy::Schema& shadow_schema, const Merged& shadow);

// A subject's pseudonym in log entries: hex HMAC-SHA-256(pseudonym key,
// "subject:" ‖ reference). The tracker's index is keyed by it.
std::string SubjectPseudonym(const std::string& pseudonym_key, const std::string& reference);

// The decision's log entry (entry schema 4), sealed, as its canonical text
// (entry::CanonicalJson's bytes, written with no tree): in clear only what
// the requester already knows. `pseudonym_key` keys the subject's
// pseudonym, which is also set in `*pseudonym` ("" when there is no subject).
Result<std::string> DecisionEntry(const engine::Engine& engine, const CallerRequest& caller,
                                  const Resolution& resolution, const Merged& merged,
                                  bool outward, const std::string& request_id,
                                  const std::string& pseudonym_key, const entry::AuditKey& audit_key,
                                  std::string* pseudonym);

// The outward answer (/v1/disclosures): only the permitted fields of the
// permitted records; a refusal has one status and shape whatever its cause.
// Returns (status, body), the body as JSON text (written without a tree).
std::pair<int, std::string> RenderDisclosure(const engine::Engine& engine, const Merged& merged,
                                             const FieldMap& field_map, const std::string& receipt);

// The holder's answer (/v1/decisions), as JSON text: the full decision with
// every per-record evaluation (each in the engine's form, `Engine::AppendJson`,
// with its record).
std::string RenderDecision(const engine::Engine& engine, const Resolution& resolution, const Merged& merged,
                           const std::string& receipt, uint64_t index);

// The names of the set bits of `mask` in the schema's `kind`, as JSON.
boost::json::array Names(const policy::Schema& schema, policy::EnumKind kind, policy::Mask mask);

}  // namespace firebreak::gateway::internal
