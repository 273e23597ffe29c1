// C2SP tlog-tiles: path math, entry bundles, reading node hashes from tiles,
// and the `Tiler` that turns appended entries into tile files. No I/O: files
// are read through a `FileReader` and produced as (path, bytes) pairs.
//
// A hash tile at level L, index N holds the hashes of the 256 consecutive
// subtrees of 256^L leaves starting at leaf N·256^(L+1); the rightmost tile of
// a level is partial (`.p/<W>`), partial tiles are never hashed into the level
// above, and empty tiles do not exist. An entry bundle holds 256 entries, each
// `uint16 big-endian length ‖ entry`.
//
// Error model: malformed or missing tiles are `Error`s (kDataLoss, kNotFound).
// Thread model: free functions thread-safe; classes thread-compatible.
//
//   TilePath(0, 1234067, 256) == "tile/0/x001/x234/067"
//   TilePath(2, 0, 1) == "tile/2/000.p/1"
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/crypto.h"
#include "base/error.h"
#include "ledger/merkle.h"

namespace firebreak::ledger {

inline constexpr int kTileHeight = 8;
inline constexpr uint64_t kTileWidth = 256;
inline constexpr size_t kMaxEntrySize = 65535;
// Hash tiles exist for levels 0..kMaxTileLevel (enough for 2^64 leaves).
inline constexpr int kMaxTileLevel = 7;

// 1234067 -> "x001/x234/067"; 5 -> "005".
std::string TileIndexPath(uint64_t n);

// "tile/<L>/<N>" for width 256, else "tile/<L>/<N>.p/<W>". REQUIRES: 1 <= width <= 256.
std::string TilePath(int level, uint64_t index, uint64_t width);
// "tile/entries/<N>" or "tile/entries/<N>.p/<W>".
std::string EntryBundlePath(uint64_t index, uint64_t width);

// One tile (hash tile, or entry bundle when `level` is kEntriesLevel).
inline constexpr int kEntriesLevel = -1;
struct TileRef {
  int level;
  uint64_t index;
  uint64_t width;  // 1..256
  std::string Path() const;
  bool operator==(const TileRef&) const = default;
};

// Parses a tile or bundle path ("tile/1/x001/234.p/7", "tile/entries/005");
// nullopt unless it is exactly in the tlog-tiles form.
std::optional<TileRef> ParseTilePath(std::string_view path);

// Every tile a tree of `size` leaves has, level 0 first within each level
// ascending; `with_bundles` adds the entry bundles (level kEntriesLevel) first.
std::vector<TileRef> TilesForSize(uint64_t size, bool with_bundles);

// The tile of `level` holding node `node_index` (a level-8·L node) in a tree of
// `size` leaves. Width is what the tree of `size` has of that tile.
TileRef TileForNode(int level, uint64_t node_index, uint64_t size);

// Entry bundles.
std::string EncodeBundle(std::span<const std::string_view> entries);
void AppendToBundle(std::string& bundle, std::string_view entry);
// Splits a bundle into views of `data`; kDataLoss if it is truncated.
Result<std::vector<std::string_view>> ParseBundle(std::string_view data);

// Tile bytes <-> hashes. ParseTile fails unless `data` is exactly width·32 bytes.
Result<std::vector<Hash>> ParseTile(std::string_view data, uint64_t width);
std::string EncodeTile(std::span<const Hash> hashes);

// Reads a file of the log by its path ("checkpoint", "tile/0/000.p/3", ...).
using FileReader = std::function<Result<std::string>(const std::string& path)>;

// Reads node hashes of the tree of `size` from its tiles, caching tiles.
// Usable as a NodeReader for proof generation.
class TileNodeReader {
 public:
  TileNodeReader(FileReader read, uint64_t size) : read_(std::move(read)), size_(size) {}

  // The root of the perfect subtree of height `level` starting at leaf
  // index << level. kInvalidArgument if that subtree is not inside the tree.
  Result<Hash> ReadNode(int level, uint64_t index);
  NodeReader AsNodeReader() {
    return [this](int level, uint64_t index) { return ReadNode(level, index); };
  }

 private:
  Result<const std::vector<Hash>*> Tile(const TileRef& ref);

  FileReader read_;
  uint64_t size_;
  Sha256Hasher hasher_;
  std::unordered_map<std::string, std::vector<Hash>> cache_;
};

// A file to write: its path in the log and its bytes.
struct TileFile {
  std::string path;
  std::string data;
};

// Builds tiles and bundles as entries are appended. It keeps the right edge of
// the tree (the incomplete tile of each level and the incomplete bundle);
// a full tile is produced as soon as it completes, partial ones on `Flush`.
class Tiler {
 public:
  Tiler() = default;
  // Resumes at `size` from the partial tiles and bundle of that size.
  static Result<Tiler> Resume(uint64_t size, const FileReader& read);

  // REQUIRES: entry.size() <= kMaxEntrySize; `leaf_hash` == HashLeaf(entry).
  void Append(Sha256Hasher& hasher, std::string_view entry, const Hash& leaf_hash);

  // Returns the full tiles completed since the last call plus the partial
  // tiles and bundle of the current size (none for size 0).
  std::vector<TileFile> Flush();

  uint64_t size() const { return size_; }
  // MTH of the current tree, from the right edge (cheap: at most 255 hashes a level).
  Hash Root(Sha256Hasher& hasher) const;

 private:
  uint64_t size_ = 0;
  std::vector<std::vector<Hash>> levels_;  // incomplete tile of each level
  std::string bundle_;                     // incomplete entry bundle
  std::vector<TileFile> completed_;
};

}  // namespace firebreak::ledger
