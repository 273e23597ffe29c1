// `firebreak audit`: what an inspector runs on a copy of a holder's decision
// log, with the audit key the holder shares with oversight and a directory
// of the packs the holder has published. It trusts nothing the holder says:
//
//   1. re-verifies the log (every tile, bundle and the signed checkpoint, and
//      the witnesses' cosignatures it is told to require);
//   2. opens every entry's sealed part;
//   3. replays every decision: rebuilds the request from the entry, decides
//      it again with the pack whose hash the entry names (looked up among
//      the published packs) and compares with what was recorded;
//   4. checks every decision, as recorded, against every guarantee of its
//      pack and of the baseline packs the inspector names (a permit the
//      holder's own pack allowed is still a finding if the national layer's
//      guarantee forbids it);
//   5. checks every policy change and delivery entry against the rules of a
//      deployment, and reports duplicates, unknown policy hashes, gaps in
//      time and counts by month × requester type × purpose × decision × rule.
//
// Findings are values (`Finding`: the entry's index, a stable kind, one plain
// English sentence); only a log that cannot be read at all is an `Error`.
//
// Error model: `Error`s for unreadable inputs (no log, no checkpoint, a pack
// directory that does not exist). Everything the log gets wrong is a finding.
// Thread model: `RunAudit` is single-threaded (one core) apart from the
// ledger's verification; the report is a plain value.
//
//   oversight::AuditOptions o;
//   o.log_dir = "copy/log";  o.log_key = vkey;  o.keys = keyring;
//   o.packs_dir = "published-packs";
//   FB_ASSIGN_OR_RETURN(oversight::AuditReport r, oversight::RunAudit(o));
//   std::cout << r.Summary();
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "entry/entry.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"

namespace firebreak::oversight {

// One thing the log gets wrong.
struct Finding {
  std::optional<uint64_t> index;  // the entry, when the finding is about one
  std::string kind;               // stable id, e.g. "decision-mismatch"
  std::string sentence;           // plain English, for the inspector's report
};

// The kinds of finding, for tests and for tools that read the JSON.
namespace finding {
inline constexpr char kLogDoesNotVerify[] = "log-does-not-verify";
inline constexpr char kTooFewCosignatures[] = "too-few-cosignatures";
inline constexpr char kUnreadableEntry[] = "unreadable-entry";
inline constexpr char kUnknownAuditKey[] = "unknown-audit-key";
inline constexpr char kSealedPartDoesNotOpen[] = "sealed-part-does-not-open";
inline constexpr char kDuplicate[] = "duplicate-request";
inline constexpr char kUnknownPolicyHash[] = "unknown-policy-hash";
inline constexpr char kUnloggedPolicy[] = "decision-under-unlogged-policy";
inline constexpr char kDecisionMismatch[] = "decision-mismatch";
inline constexpr char kGuaranteeViolated[] = "guarantee-violated";
inline constexpr char kBadPolicyChange[] = "bad-policy-change";
inline constexpr char kBadDelivery[] = "bad-delivery";
inline constexpr char kTimeGoesBack[] = "time-goes-back";
}  // namespace finding

struct AuditOptions {
  std::string log_dir;                      // a copy of the log (checkpoint + tile/)
  std::optional<ledger::NoteVerifier> log_key;
  std::vector<ledger::NoteVerifier> witnesses;  // cosignature keys (type 0x04)
  size_t min_witnesses = 0;                 // cosignatures the checkpoint must carry
  entry::Keyring keys;                      // audit keys (every one in use over the log's life)
  std::string packs_dir;                    // the published packs, searched by policy hash
  // Packs whose guarantees every decision must meet, whatever pack decided
  // it (e.g. the national firewall layer). Directories holding a pack.fbp.
  std::vector<std::string> baseline_packs;
  // A pause between two consecutive entries longer than this is listed as a
  // gap (not a finding: a quiet night is not misbehaviour).
  std::chrono::seconds gap{24 * 3600};
  // Time may step back this much between consecutive entries (clocks of
  // concurrent requests); more is a finding.
  std::chrono::seconds clock_skew{120};
  // Called now and then with the stage ("verify", "replay") and progress.
  std::function<void(std::string_view stage, uint64_t done, uint64_t total)> progress;
};

struct Gap {
  uint64_t after_index = 0;  // the gap follows this entry
  int64_t from = 0, to = 0;  // Unix seconds
};

// month ("2026-11"), requester org_type, declared purpose, decision
// ("permit"/"deny"), deciding rule ("(none)" for a default deny or an
// unresolved subject).
using CountKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;

struct AuditReport {
  ledger::Checkpoint checkpoint;
  size_t cosignatures = 0;     // valid cosignatures from the required witnesses
  bool log_verified = false;
  uint64_t entries = 0;
  uint64_t decisions = 0, policy_changes = 0, deliveries = 0;
  uint64_t replayed = 0;       // decisions decided again and compared
  // Decisions that could not be replayed in full because their entry lists
  // only part of the subject's cases or records (entry::FitSealed); their
  // listed facts were still checked against the guarantees.
  uint64_t partly_replayed = 0;
  uint64_t unresolved = 0;     // decisions about a person the holder could not find
  std::vector<Finding> findings;
  std::vector<Gap> gaps;
  std::map<CountKey, uint64_t> counts;
  std::map<std::string, std::string> packs;  // policy hash → pack dirs that produce it
  double verify_seconds = 0, replay_seconds = 0;  // wall time of the two passes

  // The whole report as JSON (docs/oversight.md).
  boost::json::object ToJson() const;
  // A short human summary: what was checked, the findings by kind, the
  // first findings in full.
  std::string Summary(size_t max_findings = 20) const;
};

Result<AuditReport> RunAudit(const AuditOptions& options);

}  // namespace firebreak::oversight
