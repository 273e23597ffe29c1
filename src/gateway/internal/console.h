// The web console's JSON API (docs/console.md, docs/openapi.yaml): read-only
// views of the decision log and the policy in force for the holder's DPO
// (admin scope), its analysts (analyst) and oversight bodies (oversight).
//
// Everything is aggregated and paginated here, never in the browser: an
// in-memory index of the log (`Console::Refresh`, one compact row per
// entry, its sealed part opened once with the audit key) answers the
// overview, the decision stream and the agreements' counts; single entries
// and proofs are read from the log.
//
// What each scope sees: the holder's scopes (admin, analyst) see decisions
// in codes and the subject's HMAC pseudonym, with the subject's roles, flags,
// cases and per-record provenance; the oversight scope sees how the policy
// decided (decision, rules, reasons, obligations, effective purpose) but
// never the pseudonym, nor the subject's roles, flags, cases or records: it
// audits the policy, not the person, and cannot link decisions about one
// person. No console endpoint is reachable by a requester or the holder's
// record systems (403, one shape).
//
// Error model: bad query parameters are 400 naming the parameter; a log that
// cannot be read is a 500 that says nothing about any entry.
// Thread model: thread-safe; the index is guarded by one mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "engine/engine.h"
#include "entry/entry.h"
#include "http/http.h"
#include "ledger/log_reader.h"

namespace firebreak::gateway::internal {

enum class ConsoleAccess : uint8_t {
  kHolder,     // admin and analyst: codes and pseudonyms
  kOversight,  // no pseudonym, no subject facts
};

// What the gateway hands the console per request.
struct ConsoleContext {
  std::shared_ptr<const engine::Engine> live;
  std::vector<std::string> packs;
  std::string served_checkpoint;  // the checkpoint as served (with cosignatures)
  uint64_t sequenced_size = 0;
  size_t witnesses_configured = 0, witness_quorum = 0;
  bool log_healthy = true;
  std::string org_id, org_name, scope;  // the caller
  int64_t now = 0;                      // Unix seconds
};

// The console's endpoints under /v1/console/, each "GET <path>".
const std::vector<std::string>& ConsolePaths();

class Console {
 public:
  // `log_dir` for the checkpoint's age; `log` and `keys` outlive the console.
  Console(const ledger::LogReader& log, const entry::Keyring& keys, std::string log_dir)
      : log_(log), keys_(keys), log_dir_(std::move(log_dir)) {}

  // GET /v1/console/<rest>?<query>.
  http::Response Handle(std::string_view rest, std::string_view query, ConsoleAccess access,
                        const ConsoleContext& ctx);

  // POST /v1/console/policies/replay (admin; console_replay.cc): body
  // `{"packs": [dirs], "last": N}` (N from 1 to 10,000, default 1,000). The
  // last N decision entries of the log, opened with the audit key and
  // decided again under the candidate (engine/replay.h); every decision
  // that would change (outcome, categories disclosed or obligations), in
  // codes only (no pseudonym), with counts of those replayed, changed and
  // not replayed (and why). 400 naming `packs` when a directory is missing
  // or the candidate does not load or check; 400 naming `last` when out of
  // range.
  http::Response Replay(std::string_view body, const ConsoleContext& ctx);

  // Reads the entries published since the last call into the index.
  Status Refresh();
  // Makes a running or later Refresh stop early (the gateway is closing).
  void Stop() { stopping_ = true; }
  // Entries in the index.
  uint64_t indexed() {
    std::lock_guard lock(mu_);
    return indexed_;
  }

 private:
  struct Row {
    int64_t time = 0;
    uint64_t index = 0;
    uint8_t kind = 0;      // kDecision, kPolicy, kDelivery, kOther
    uint8_t endpoint = 0;  // 0 disclosures, 1 decisions
    int8_t permit = -1;    // 1 permit, 0 deny, -1 unknown (not opened)
    uint16_t org = 0, org_type = 0, purpose = 0;
    uint32_t obligations = 0;  // bits of obligation_names_
    uint32_t rules_begin = 0;  // into rule_pool_
    uint16_t rules_count = 0;
  };
  enum : uint8_t { kDecision, kPolicy, kDelivery, kOther };

  uint16_t Intern(std::vector<std::string>& names, std::map<std::string, uint16_t>& ids, std::string_view s);
  void Add(uint64_t index, std::string_view text);

  http::Response Whoami(ConsoleAccess access, const ConsoleContext& ctx);
  http::Response Overview(std::string_view query, const ConsoleContext& ctx);
  http::Response Decisions(std::string_view query, ConsoleAccess access);
  http::Response Decision(std::string_view id, ConsoleAccess access, const ConsoleContext& ctx);
  http::Response Policies(const ConsoleContext& ctx);
  http::Response Agreements(std::string_view query, const ConsoleContext& ctx);
  http::Response Log(const ConsoleContext& ctx);
  http::Response Proof(std::string_view id);

  const ledger::LogReader& log_;
  const entry::Keyring& keys_;
  std::string log_dir_;

  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  uint64_t indexed_ = 0;
  std::vector<Row> rows_;
  std::vector<uint16_t> rule_pool_;
  std::vector<std::string> strings_;  // orgs, org types, purposes, rules
  std::map<std::string, uint16_t> string_ids_;
  std::vector<std::string> obligation_names_;
  std::map<std::string, uint16_t> obligation_ids_;
  // The last accepted policy entry: when the policy in force was loaded.
  struct PolicyLoad {
    uint64_t index = 0;
    int64_t time = 0;
    std::string hash, trigger;
    std::vector<std::string> guarantees_proved, pins_checked;
  };
  std::vector<PolicyLoad> loads_;  // accepted loads, oldest first
  uint64_t refused_reloads_ = 0;
};

// POST /v1/console/policies/diff (admin): the policy in force against a
// candidate (pack directories), with the verifier (verify::DiffSets): the
// concrete requests one permits and the other refuses, or discloses or
// obliges differently. `body` is `{"packs": [...]}` or empty for
// `default_packs` (the configured shadow candidate). 400 for a bad body or no
// candidate, 422 when the candidate does not load or shares no schema.
http::Response ComparePolicies(const engine::Engine& live, std::string_view body,
                               const std::vector<std::string>& default_packs);

// Parses "a=1&b=x" (percent-decoding values); false on a malformed escape.
bool ParseQuery(std::string_view query, std::map<std::string, std::string>* out);

// The console's JSON answers (never cached by the browser) and its problem
// answers ({"error": {status, message[, field]}}); `ConsoleString` is a
// member's string value, or "" when it is missing or not a string.
http::Response ConsoleJson(int status, const boost::json::value& body);
http::Response ConsoleProblem(int status, std::string_view field, std::string_view message);
std::string_view ConsoleString(const boost::json::object& o, std::string_view key);

}  // namespace firebreak::gateway::internal
