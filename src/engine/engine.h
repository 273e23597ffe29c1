// Front door of `engine`: compiles a checked `PolicySet` into an immutable
// program and decides requests with the combining rules of DESIGN §3:
// any matching forbid denies; else matching permits grant categories, minus
// what any of them withholds; else deny ("no agreement covers this request").
// Every decision names its deciding rules, their reasons, its obligations and
// the policy hash.
//
// Error model: a decision is a value, never an error. Malformed requests are
// rejected by `ParseRequest` (request.h) before they reach the engine.
// Thread model: `Engine` is immutable and thread-safe; share it as
// `std::shared_ptr<const Engine>` and swap the pointer to reload.
//
//   auto engine = Engine::Compile(loaded.set);
//   FB_ASSIGN_OR_RETURN(Request req, ParseRequestText(body, engine->schema()));
//   Decision d = engine->Decide(req);
//   std::string line = boost::json::serialize(engine->ToJson(d, req));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "engine/request.h"
#include "policy/ir.h"

namespace firebreak::engine {

// Three-valued truth of a condition (Kleene).
enum class Truth : uint8_t { kFalse = 0, kTrue = 1, kUnknown = 2 };

struct Decision {
  bool permit = false;
  Mask disclosed = 0;     // categories
  Mask withheld = 0;      // categories asked and not disclosed
  Mask obligations = 0;
  uint8_t purpose = 0;    // after normalisation
  // Indices into PolicySet::rules: on deny the matching forbids, on permit the
  // matching permits; empty for a default deny.
  std::vector<uint32_t> rules;
  std::vector<uint32_t> unknown_rules;   // forbids that matched on unknown facts
  std::vector<uint32_t> normalisations;  // indices into PolicySet::normalisations
  bool conflicting_normalisations = false;
};

class Engine {
 public:
  static std::shared_ptr<const Engine> Compile(std::shared_ptr<const policy::PolicySet> set);

  Decision Decide(const Request& request) const;

  // The decision form of DESIGN §2, plus the effective and declared purpose,
  // the normalisations applied and the request id when there is one.
  boost::json::object ToJson(const Decision& d, const Request& request) const;
  // Appends exactly `boost::json::serialize(ToJson(d, request))` to `out`,
  // without building a JSON tree (what `firebreak eval --requests` prints
  // per line).
  void AppendJson(const Decision& d, const Request& request, std::string* out) const;
  // The rule names and reasons `ToJson` gives, without JSON (appended;
  // `reasons` may be null).
  void Explain(const Decision& d, std::vector<std::string>* rules, std::vector<std::string>* reasons) const;

  // Truth of condition `id` on `request`, with `purpose` as the effective
  // purpose. Exposed for the verifier's differential tests.
  Truth Evaluate(policy::CondId id, const Request& request, uint8_t purpose) const;

  const policy::Schema& schema() const { return *set_->schema; }
  const policy::PolicySet& policy_set() const { return *set_; }
  std::shared_ptr<const policy::PolicySet> shared_policy_set() const { return set_; }
  const std::string& policy_hash() const { return set_->hash; }

 private:
  explicit Engine(std::shared_ptr<const policy::PolicySet> set);

  Truth Eval(policy::CondId id, const Request& r, uint8_t purpose, const CaseFacts* c) const;
  const std::vector<uint32_t>& Bucket(const std::vector<std::vector<uint32_t>>& index,
                                      const Request& r, uint8_t purpose) const;

  std::shared_ptr<const policy::PolicySet> set_;
  size_t org_types_ = 1;
  size_t legal_bases_ = 1;
  // Rules that can match a request with a given (purpose, org_type,
  // legal_basis), found by analysing each condition; indexed
  // (purpose * org_types_ + org_type) * legal_bases_ + legal_basis.
  std::vector<std::vector<uint32_t>> forbids_;
  std::vector<std::vector<uint32_t>> permits_;
  // What AppendJson prints of the policy, escaped once at compile time:
  // each rule's name and reason (and the reason when it matched on unknown
  // facts), normalisation names, the schema's values by kind, the hash.
  struct JsonTexts {
    std::vector<std::string> rule_names, reasons, unknown_reasons, normalisations;
    std::vector<std::vector<std::string>> values;
    std::string hash;
  } json_;
};

}  // namespace firebreak::engine
