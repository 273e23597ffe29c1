// `firebreak monitor`: what an oversight body runs continuously against a
// holder's public log (read-only, no credential). Each run fetches the
// signed checkpoint, checks its signature and the witnesses' cosignatures it
// requires, fetches the entry bundles added since the checkpoint it kept,
// re-derives every leaf and node hash itself, and accepts the new checkpoint
// only if its root is the root of the tree it kept with the new entries
// appended: consistency by construction, with no proof taken on trust. The
// tiles it derives are compared byte for byte with the log's own.
//
// Its state directory is a mirror of the log in the tlog-tiles layout
// (`checkpoint`, `tile/…`) holding exactly what it verified, so
// `firebreak audit --dir STATE` audits the mirror, and a resumed run reads
// the full bundles it already has instead of fetching them again.
//
// Misbehaviour — a rollback, a fork (a new checkpoint that does not extend
// the old), a rewritten entry, a truncated bundle, a tile that does not match
// the entries, a checkpoint signed by the log key that another vantage point
// (a witness, another monitor, a receipt) saw with a different root for the
// same tree — produces `Evidence`: a self-contained JSON file holding both
// signed checkpoints and what fails, written to STATE/evidence/. The kept
// checkpoint is then not replaced.
//
// Error model: `Error`s for what stops a run (the log cannot be reached, the
// state cannot be written); misbehaviour is `Evidence`, a value.
// Thread model: one run at a time per state directory (the mirror is
// locked); free functions thread-safe.
//
//   MonitorOptions o;  o.state_dir = "state/force-a";  o.log_key = vkey;
//   o.fetch = FetchFromDir("/mnt/copy");   // or an HTTP fetcher (CLI)
//   FB_ASSIGN_OR_RETURN(MonitorRun run, RunMonitor(o));
//   if (!run.evidence.empty()) ...
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "ledger/tiles.h"

namespace firebreak::oversight {

// Evidence that the log misbehaved.
struct Evidence {
  std::string kind;      // "rollback", "fork", "split-view", "rewritten-entry", "bad-bundle", "tile-mismatch", "bad-signature"
  std::string sentence;  // plain English
  std::string kept;      // the signed checkpoint the monitor kept (verbatim), or ""
  std::string seen;      // the signed checkpoint that contradicts it (verbatim)
  std::optional<uint64_t> index;    // the entry concerned, when one is
  std::vector<ledger::Hash> proof;  // the log's own consistency proof, when one was built
  std::string proof_result;         // "verifies" or why it fails
  std::string path;                 // the file (tile or bundle) concerned, when one is
  boost::json::object ToJson() const;
};

struct MonitorOptions {
  std::string state_dir;
  std::optional<ledger::NoteVerifier> log_key;
  std::vector<ledger::NoteVerifier> witnesses;  // cosignature keys (type 0x04)
  size_t min_witnesses = 0;
  // Reads the log's files by path ("checkpoint", "tile/0/000", …); kNotFound
  // for a file the log does not have.
  ledger::FileReader fetch;
  // Signed checkpoints of the same log seen elsewhere (a witness's latest,
  // another monitor's, a receipt's): each must agree with the mirror.
  std::vector<std::string> peer_checkpoints;
  // Called now and then with (new entries verified, new entries in all).
  std::function<void(uint64_t, uint64_t)> progress;
};

struct MonitorRun {
  uint64_t previous_size = 0;        // the kept checkpoint's size before the run
  ledger::Checkpoint checkpoint;     // the checkpoint kept after the run
  uint64_t new_entries = 0;          // entries verified and added to the mirror
  size_t cosignatures = 0;           // on the log's current checkpoint
  std::vector<Evidence> evidence;
  std::vector<std::string> evidence_files;
  std::vector<std::string> notes;    // what could not be checked, and why (not misbehaviour)
};

// One pass: from the kept checkpoint to the log's current one.
Result<MonitorRun> RunMonitor(const MonitorOptions& options);

// Checks a signed checkpoint seen elsewhere against the mirror in
// `state_dir` (the checks `peer_checkpoints` runs): nullopt when it agrees
// or is ahead of the mirror.
Result<std::optional<Evidence>> CheckAgainstMirror(const std::string& state_dir,
                                                   const ledger::NoteVerifier& log_key,
                                                   std::string_view signed_checkpoint);

// A fetcher reading the log's files from a local directory (a copy, or a
// mounted mirror).
ledger::FileReader FetchFromDir(const std::string& dir);

// A fetcher reading the log's files over HTTP(S) below `base_url` (the
// gateway serves them under `/log/`), through one keep-alive client; `ca_file`
// is the CA the server chains to (empty: the system's). A 404 is kNotFound,
// any other status but 200 kUnavailable.
Result<ledger::FileReader> FetchFromUrl(std::string base_url, const std::string& ca_file);

// Writes `evidence` as STATE/evidence/<time>-<kind>.json; returns the path.
Result<std::string> WriteEvidence(const std::string& state_dir, const Evidence& evidence);

}  // namespace firebreak::oversight
