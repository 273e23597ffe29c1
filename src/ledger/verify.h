// Re-verifies a whole log from its entry bundles up: every entry is hashed,
// every hash tile of the checkpoint's tree is recomputed and compared byte
// for byte with the stored one, the root is compared with the signed
// checkpoint, and (optionally) an older checkpoint is checked to be a prefix
// of the current tree (RFC 9162 consistency). This is what an oversight body
// runs; it needs only the static files and the log's public key.
//
// Error model: the first mismatch is an `Error` (kDataLoss, or kInvalidArgument
// for a bad signature or old checkpoint) whose message names the file or
// index; I/O problems are kIo / kNotFound.
// Thread model: thread-safe (no shared state).
//
//   FB_ASSIGN_OR_RETURN(VerifyReport r, VerifyLog(read, log_key, old_checkpoint, nullptr));
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "base/error.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "ledger/tiles.h"

namespace firebreak::ledger {

struct VerifyReport {
  Checkpoint checkpoint;
  uint64_t entries = 0;      // entries hashed
  uint64_t tiles = 0;        // hash tiles compared
  bool old_checked = false;  // an old checkpoint was proved consistent
};

// Called now and then with (entries verified, total).
using VerifyProgress = std::function<void(uint64_t done, uint64_t total)>;

// `old_checkpoint` is a signed checkpoint of the same log, or empty.
// `present` lists the files found under tile/ (if the caller can list them):
// each partial tile or bundle kept for an older checkpoint is then checked to
// be a prefix of the current tree's tile, and any file that is not a
// tlog-tiles path is reported. Tiles beyond the checkpoint (written before
// the next one is signed) are not covered by any signature and are skipped.
Result<VerifyReport> VerifyLog(const FileReader& read, const NoteVerifier& log_key,
                               const std::string& old_checkpoint, const VerifyProgress& progress,
                               std::span<const std::string> present = {});

}  // namespace firebreak::ledger
