// An independent, deliberately plain reading of the C2SP texts the log
// speaks — signed-note, tlog-checkpoint, tlog-proof and tlog-tiles paths —
// written from the specifications' sentences (quoted beside each rule in
// c2sp_reference.cc), not from `ledger/`. It shares no code with the
// parsers it checks (its own UTF-8 decoder, base64 and line splitter), is
// slow and never used by the product: the differential test and the
// `c2sp_fuzz` target compare it with `ParseNote`, `ParseCheckpoint`,
// `ParseReceipt` and `ParseTilePath`, input by input.
//
// Where Firebreak is deliberately stricter than a specification, the
// restriction is a named constant here, so that a difference the
// comparison finds is either a defect or one of these:
//   - at most kMaxSignatures signature lines (the spec: "MUST accept at
//     least up to 16");
//   - tile levels 0..kMaxTileLevel (the spec allows 0..63; a SHA-256 tree of
//     at most 2^64 leaves has no tile above level 7), and only the canonical
//     spelling of a tile index (no all-zero leading groups);
//   - sizes and indices fit in 64 bits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace firebreak::ledger::c2sp {

inline constexpr size_t kMaxSignatures = 100;
inline constexpr int kMaxTileLevel = 7;

struct SignatureLine {
  std::string key_name;
  uint32_t key_id = 0;
  std::string signature;  // the bytes after the key ID
};

struct SignedNote {
  std::string text;
  std::vector<SignatureLine> signatures;
};

struct CheckpointBody {
  std::string origin;
  uint64_t tree_size = 0;
  std::string root_hash;  // 32 bytes
  std::vector<std::string> extension_lines;
};

struct TlogProof {
  std::optional<std::string> extra;  // decoded
  uint64_t index = 0;
  std::vector<std::string> proof;  // 32-byte hashes
  std::string checkpoint;          // verbatim
};

struct TilePath {
  bool entries = false;  // tile/entries/…
  int level = 0;
  uint64_t index = 0;
  std::optional<uint64_t> partial_width;
};

std::optional<SignedNote> ReadSignedNote(std::string_view bytes);
std::optional<CheckpointBody> ReadCheckpointBody(std::string_view note_text);
std::optional<TlogProof> ReadTlogProof(std::string_view bytes);
std::optional<TilePath> ReadTilePath(std::string_view path);

}  // namespace firebreak::ledger::c2sp
