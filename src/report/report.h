// Front door of `report`: the holder's transparency report, what
// `firebreak report` publishes for a data protection officer, an inspector or
// a campaign group (docs/reports.md).
//
//   1. `CountLog` reads the decision log (checkpoint signature checked), opens
//      every decision entry with the audit key and counts decisions by
//      period × requester type × purpose × decision × protected role, over
//      every cell of the schema's closed vocabularies, zeros included. The
//      privacy unit is the data subject: each pseudonym contributes at most
//      `cap` decisions to a release (later ones are left out).
//   2. `Noise` adds discrete Laplace noise of scale cap/ε to every cell
//      (dlaplace.h: exact, integer-only, OpenSSL's CSPRNG) and gives each its
//      95 % interval.
//   3. `ProvedStatements` turns the guarantees the verifier proves for the
//      pack in force into sentences true for every possible request.
//   4. `BudgetLedger` (budget.h) charges ε to the holder's yearly budget and
//      keeps every release; `MakeRelease` ties it together: the same release
//      asked again returns the stored numbers, never fresh noise.
//   5. `ToCsv`, `ToJson`, `ToHtml` (render.cc) write it out.
//
// What is exact and what is noisy: every count depends on sealed facts (the
// subject's roles; for the holder's own decisions the decision itself), so
// every count is noisy. The proved statements are exact: they come from the
// proof, not from the data.
//
// Error model: `Error`s for unreadable inputs and refused releases
// (kFailedPrecondition: over budget). Entries that cannot be read or opened
// are counted (`unreadable`) and make the report say so; they are never
// silently dropped.
// Thread model: single-threaded; values are plain.
//
//   report::ReleaseOptions o;  o.count.log_dir = "log"; ...
//   FB_ASSIGN_OR_RETURN(report::Release r, report::MakeRelease(o));
//   WriteFile("report.html", report::ToHtml(r));
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "entry/entry.h"
#include "ledger/note.h"
#include "policy/ir.h"
#include "report/budget.h"
#include "report/dlaplace.h"

namespace firebreak::report {

enum class Period { kMonth, kYear };

// "2026-11" (month) or "2026" (year) → the first second of that period, UTC.
Result<int64_t> ParsePeriodStart(std::string_view text, Period period);
// The first second after the period that starts at `start`.
int64_t PeriodEnd(int64_t start, Period period);
std::string PeriodName(int64_t t, Period period);

// The closed vocabularies a report's table spans, in schema order.
struct Vocabulary {
  std::vector<std::string> periods, requester_types, purposes, decisions, roles;
  size_t cells() const {
    return periods.size() * requester_types.size() * purposes.size() * decisions.size() * roles.size();
  }
  size_t Index(size_t period, size_t type, size_t purpose, size_t decision, size_t role) const {
    return (((period * requester_types.size() + type) * purposes.size() + purpose) * decisions.size() + decision) *
               roles.size() +
           role;
  }
};
// The schema's org types, purposes, permit/deny, and its `protected_roles`
// set (every role when the schema has no such set) followed by "none".
Vocabulary VocabularyFor(const policy::PolicySet& set, Period period, int64_t from, int64_t to);

struct CountOptions {
  std::string log_dir;
  std::optional<ledger::NoteVerifier> log_key;  // the checkpoint's signature is checked
  entry::Keyring keys;
  std::vector<std::string> packs;  // the pack directories in force (their schema gives the vocabularies)
  Period period = Period::kMonth;
  int64_t from = 0, to = 0;  // [from, to), Unix seconds, period-aligned
  uint64_t cap = 1;          // decisions per subject per release
  // Workers reading the log (0: two for logs of 65,536 entries or more, else
  // one). The result does not depend on it.
  size_t threads = 0;
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Exact counts: never published as they are.
struct Tally {
  Vocabulary vocabulary;
  std::vector<uint64_t> cells;    // by Vocabulary::Index
  uint64_t outside_vocabulary = 0;  // decisions with a type, purpose or decision the schema lacks
  uint64_t over_cap = 0;          // decisions left out by the cap
  uint64_t unreadable = 0;        // entries that could not be parsed or opened
  uint64_t entries_read = 0, decisions_in_range = 0;
  std::string origin;             // the log's origin (the holder)
  uint64_t log_size = 0;
  std::string pack_hash;          // of `packs`
  std::vector<std::string> policies_in_force;  // hashes decisions in range name
  std::shared_ptr<const policy::PolicySet> set;
};
Result<Tally> CountLog(const CountOptions& options);

// A sentence the verifier proved true for every possible request under the
// pack in force.
struct Statement {
  std::string guarantee, text, because, source;
};
// Proves the guarantees of `set` and returns one statement per proved one,
// in the set's order. Refuted or unknown guarantees give none.
Result<std::vector<Statement>> ProvedStatements(std::shared_ptr<const policy::PolicySet> set);
// The sentence for guarantee `g` (for the tests).
std::string StatementText(const policy::Guarantee& g, const policy::PolicySet& set);

struct Release {
  std::string id;        // sha256 of the release's parameters
  std::string holder;    // the log's origin
  uint64_t log_size = 0;
  std::string period;    // "month" | "year"
  std::string from, to;  // period names, inclusive
  Rational epsilon;
  uint64_t cap = 1;
  std::string mechanism;
  Scale scale;
  int64_t half_width = 0;  // 95 % interval: value ± half_width
  Vocabulary vocabulary;
  std::vector<int64_t> noisy;     // by Vocabulary::Index
  int64_t outside_vocabulary = 0;  // noisy
  std::string pack_hash;
  std::vector<std::string> policies_in_force;
  std::vector<Statement> statements;
  // Why there are no statements although guarantees were proved: some
  // decisions of the period were made under another policy than `pack_hash`.
  std::string statements_note;
  uint64_t unreadable = 0;  // entries that could not be read (exact: says nothing about anyone)
  int64_t created = 0;
  std::string output_hash;  // sha256 of the canonical JSON of the numbers
  bool stored = false;      // returned from the ledger, not made now

  boost::json::object ToJson() const;
  static Result<Release> FromJson(const boost::json::value& v);
};

// The numbers whose hash `output_hash` is (canonical JSON of vocabulary,
// noisy cells, outside_vocabulary, statements).
std::string OutputHash(const Release& r);

struct ReleaseOptions {
  CountOptions count;
  Rational epsilon;
  std::string ledger_dir;
  std::optional<Rational> yearly_budget;  // required when the ledger is new
  int64_t now = 0;                        // Unix seconds; the year charged
};

// The whole release: counts, noise, statements, charged to the ledger. A
// release with the same parameters already in the ledger is returned as it
// was stored (`stored` true), without reading the log again. Refused
// (kFailedPrecondition) when its ε would take the holder past the year's
// budget, or when its last period has not ended.
Result<Release> MakeRelease(const ReleaseOptions& options, RandomSource& rng);

std::string ToCsv(const Release& r);
std::string ToHtml(const Release& r);

}  // namespace firebreak::report
