// C2SP tlog-witness v1.0.0 wire format, shared by the witness (which parses
// requests and writes answers) and by a log that asks witnesses to cosign
// (which writes requests and parses answers). Pure formatting and parsing:
// no I/O, no verification of signatures or proofs (the witness does those).
//
//   POST <prefix>/add-checkpoint
//   body:  "old <N>\n" ‖ 0..63 lines "<base64 hash>\n" ‖ "\n" ‖ signed checkpoint
//   200:   one or more note signature lines "— <name> <base64>\n" (cosignatures)
//   409:   "<stored size>\n" with Content-Type text/x.tlog.size
//
// Error model: malformed input is an `Error` (kInvalidArgument) naming what
// is wrong; the witness answers it with 400.
// Thread model: plain values and free functions, thread-safe.
//
//   AddCheckpointRequest req{.old_size = 5, .proof = proof, .checkpoint = signed_cp};
//   std::string body = FormatAddCheckpoint(req);
//   FB_ASSIGN_OR_RETURN(AddCheckpointRequest back, ParseAddCheckpoint(body));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "ledger/merkle.h"
#include "ledger/note.h"

namespace firebreak::ledger {

// The path of the call, after the witness's submission prefix.
inline constexpr std::string_view kAddCheckpointPath = "/add-checkpoint";
// The media type of a 409 answer's body.
inline constexpr std::string_view kTlogSizeContentType = "text/x.tlog.size";
// At most this many consistency proof lines (tlog-witness: "MUST NOT send
// more than 63").
inline constexpr size_t kMaxWitnessProofLines = 63;

struct AddCheckpointRequest {
  uint64_t old_size = 0;
  std::vector<Hash> proof;  // consistency proof from old_size to the checkpoint's size
  std::string checkpoint;   // the signed checkpoint note, verbatim
};

// The request body.
std::string FormatAddCheckpoint(const AddCheckpointRequest& request);

// Parses a request body: the old size line (decimal, no leading zeroes), at
// most 63 base64 lines of 32 bytes each, an empty line, then the rest as the
// signed checkpoint (not opened here).
[[nodiscard]] Result<AddCheckpointRequest> ParseAddCheckpoint(std::string_view body);

// A 200 answer's body: one signature line per cosignature.
std::string FormatCosignatures(const std::vector<NoteSignature>& cosignatures);

// Parses a 200 answer's body: one or more note signature lines, each
// "— <name> <base64(key ID ‖ signature)>\n". Not verified here: append them
// to the checkpoint and open it with the witness keys one trusts.
[[nodiscard]] Result<std::vector<NoteSignature>> ParseCosignatures(std::string_view body);

// A 409 answer's body: "<size>\n".
std::string FormatTlogSize(uint64_t size);
[[nodiscard]] Result<uint64_t> ParseTlogSize(std::string_view body);

// A decimal tree size as tlog-witness and tlog-checkpoint write it: ASCII
// digits, no leading zeroes (except "0"), at most 2^64 - 1.
[[nodiscard]] Result<uint64_t> ParseDecimalSize(std::string_view text);

// The timestamp of a cosignature/v1 signature (its first 8 bytes, big-endian);
// kInvalidArgument unless the signature is 8 + 64 bytes.
[[nodiscard]] Result<uint64_t> CosignatureTimestamp(const NoteSignature& cosignature);

// `signed_note` with `extra` signature lines added after its own, skipping
// any line whose (name, key ID) the note already carries.
[[nodiscard]] Result<std::string> AddSignatures(std::string_view signed_note,
                                                const std::vector<NoteSignature>& extra);

}  // namespace firebreak::ledger
