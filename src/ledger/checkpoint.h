// C2SP tlog-checkpoint v1.0.0 and c2sp.org/tlog-proof@v1 receipts.
//
// A checkpoint's note text is: the origin, the tree size in decimal (no
// leading zeros), the base64 root hash, then optional extension lines. A
// receipt is what a requester or data subject keeps: the entry's index, its
// inclusion proof and a (cosigned) checkpoint, verifiable offline.
//
// Error model: parse failures are `Error`s (kInvalidArgument) naming the line;
// receipt verification returns a `ReceiptError` (typed).
// Thread model: plain values; free functions thread-safe.
//
//   Checkpoint cp{"firebreak.example/log", 3, root};
//   FB_ASSIGN_OR_RETURN(std::string signed_cp, SignNote(cp.Text(), signers));
//   FB_ASSIGN_OR_RETURN(Checkpoint back, ParseCheckpoint(cp.Text()));
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "base/error.h"
#include "ledger/merkle.h"
#include "ledger/note.h"

namespace firebreak::ledger {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // extra lines, without "\n"

  // The note text: "<origin>\n<size>\n<base64 root>\n" plus extension lines.
  std::string Text() const;
};

Result<Checkpoint> ParseCheckpoint(std::string_view text);

// Opens a signed checkpoint with the log's key (its name must equal the
// origin) and parses it. kInvalidArgument names what failed.
Result<Checkpoint> OpenCheckpoint(std::string_view signed_note, const NoteVerifier& log_key);

// c2sp.org/tlog-proof@v1.
struct Receipt {
  std::string extra;  // opaque, unauthenticated; empty if absent
  uint64_t index = 0;
  std::vector<Hash> inclusion_proof;
  std::string checkpoint;  // the signed checkpoint note, verbatim
};

std::string FormatReceipt(const Receipt& receipt);
Result<Receipt> ParseReceipt(std::string_view text);

enum class ReceiptError {
  kBadCheckpoint,        // the checkpoint does not open with the log key or parse
  kOriginMismatch,       // the checkpoint is from another log
  kTooFewCosignatures,   // fewer than the required witnesses cosigned
  kInclusionFailed,      // the inclusion proof does not verify
};
std::string_view ReceiptErrorName(ReceiptError e);

// Verifies that `entry` is at `receipt.index` of the log `log_key`, under a
// checkpoint cosigned by at least `min_witnesses` of `witnesses` (type 0x04).
tl::expected<Checkpoint, ReceiptError> VerifyReceipt(
    const Receipt& receipt, std::string_view entry, const NoteVerifier& log_key,
    std::span<const NoteVerifier* const> witnesses, size_t min_witnesses);

}  // namespace firebreak::ledger
