#include "ledger/tiles.h"

#include <cstdio>
#include <cstring>

namespace firebreak::ledger {

std::string TileIndexPath(uint64_t n) {
  // Groups of three digits from the right; all but the last prefixed with 'x'.
  std::vector<unsigned> groups;
  do {
    groups.push_back(static_cast<unsigned>(n % 1000));
    n /= 1000;
  } while (n > 0);
  std::string out;
  char buf[8];
  for (size_t i = groups.size(); i-- > 0;) {
    std::snprintf(buf, sizeof buf, "%s%03u", i > 0 ? "x" : "", groups[i]);
    out += buf;
    if (i > 0) out += '/';
  }
  return out;
}

std::string TilePath(int level, uint64_t index, uint64_t width) {
  std::string p = "tile/" + std::to_string(level) + "/" + TileIndexPath(index);
  if (width < kTileWidth) p += ".p/" + std::to_string(width);
  return p;
}

std::string EntryBundlePath(uint64_t index, uint64_t width) {
  std::string p = "tile/entries/" + TileIndexPath(index);
  if (width < kTileWidth) p += ".p/" + std::to_string(width);
  return p;
}

std::string TileRef::Path() const {
  return level == kEntriesLevel ? EntryBundlePath(index, width) : TilePath(level, index, width);
}

std::optional<TileRef> ParseTilePath(std::string_view path) {
  const std::string_view original = path;
  if (path.substr(0, 5) != "tile/") return std::nullopt;
  path.remove_prefix(5);
  TileRef ref{0, 0, kTileWidth};
  size_t slash = path.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view level = path.substr(0, slash);
  path.remove_prefix(slash + 1);
  if (level == "entries") {
    ref.level = kEntriesLevel;
  } else if (level.size() == 1 && level[0] >= '0' && level[0] <= '0' + kMaxTileLevel) {
    ref.level = level[0] - '0';
  } else {
    return std::nullopt;
  }
  size_t dot = path.find(".p/");
  std::string_view index = path.substr(0, dot);
  if (dot != std::string_view::npos) {
    std::string_view w = path.substr(dot + 3);
    if (w.empty() || w.size() > 3 || w[0] == '0') return std::nullopt;
    uint64_t width = 0;
    for (char c : w) {
      if (c < '0' || c > '9') return std::nullopt;
      width = width * 10 + static_cast<uint64_t>(c - '0');
    }
    if (width >= kTileWidth) return std::nullopt;
    ref.width = width;
  }
  // Groups "xDDD/" then a final "DDD".
  uint64_t n = 0;
  while (true) {
    bool last = index.size() == 3;
    if (last) {
      if (index.find('x') != std::string_view::npos) return std::nullopt;
    } else if (index.size() < 5 || index[0] != 'x' || index[4] != '/') {
      return std::nullopt;
    }
    std::string_view digits = last ? index : index.substr(1, 3);
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    n = n * 1000 + static_cast<uint64_t>((digits[0] - '0') * 100 + (digits[1] - '0') * 10 +
                                         (digits[2] - '0'));
    if (last) break;
    index.remove_prefix(5);
  }
  ref.index = n;
  // Only the canonical spelling (no leading zero groups) names a tile.
  if (ref.Path() != original) return std::nullopt;
  return ref;
}

std::vector<TileRef> TilesForSize(uint64_t size, bool with_bundles) {
  std::vector<TileRef> out;
  auto add_level = [&](int level, uint64_t nodes) {
    for (uint64_t i = 0; i < nodes / kTileWidth; ++i) out.push_back({level, i, kTileWidth});
    if (nodes % kTileWidth != 0) out.push_back({level, nodes / kTileWidth, nodes % kTileWidth});
  };
  if (with_bundles) add_level(kEntriesLevel, size);
  for (int level = 0; level <= kMaxTileLevel; ++level) {
    uint64_t nodes = size >> (kTileHeight * level);
    if (nodes == 0) break;
    add_level(level, nodes);
  }
  return out;
}

TileRef TileForNode(int level, uint64_t node_index, uint64_t size) {
  uint64_t nodes = level == kEntriesLevel ? size : size >> (kTileHeight * level);
  uint64_t tile = node_index / kTileWidth;
  uint64_t width = (tile + 1) * kTileWidth <= nodes ? kTileWidth : nodes % kTileWidth;
  return {level, tile, width};
}

void AppendToBundle(std::string& bundle, std::string_view entry) {
  bundle += static_cast<char>((entry.size() >> 8) & 0xff);
  bundle += static_cast<char>(entry.size() & 0xff);
  bundle.append(entry);
}

std::string EncodeBundle(std::span<const std::string_view> entries) {
  std::string out;
  for (std::string_view e : entries) AppendToBundle(out, e);
  return out;
}

Result<std::vector<std::string_view>> ParseBundle(std::string_view data) {
  std::vector<std::string_view> out;
  size_t off = 0;
  while (off < data.size()) {
    if (data.size() - off < 2) {
      return tl::make_unexpected(DataLoss("entry bundle truncated in a length prefix at byte " +
                                          std::to_string(off)));
    }
    size_t len = (size_t{static_cast<unsigned char>(data[off])} << 8) |
                 static_cast<unsigned char>(data[off + 1]);
    off += 2;
    if (data.size() - off < len) {
      return tl::make_unexpected(DataLoss("entry bundle truncated inside entry " +
                                          std::to_string(out.size())));
    }
    out.push_back(data.substr(off, len));
    off += len;
  }
  return out;
}

Result<std::vector<Hash>> ParseTile(std::string_view data, uint64_t width) {
  if (data.size() != width * kHashSize) {
    return tl::make_unexpected(DataLoss("tile of width " + std::to_string(width) + " has " +
                                        std::to_string(data.size()) + " bytes, want " +
                                        std::to_string(width * kHashSize)));
  }
  std::vector<Hash> out(width);
  std::memcpy(out.data(), data.data(), data.size());
  return out;
}

std::string EncodeTile(std::span<const Hash> hashes) {
  std::string out(hashes.size() * kHashSize, '\0');
  std::memcpy(out.data(), hashes.data(), out.size());
  return out;
}

Result<const std::vector<Hash>*> TileNodeReader::Tile(const TileRef& ref) {
  std::string path = ref.Path();
  auto it = cache_.find(path);
  if (it != cache_.end()) return &it->second;
  FB_ASSIGN_OR_RETURN(std::string data, read_(path));
  auto parsed = ParseTile(data, ref.width);
  if (!parsed) return tl::make_unexpected(parsed.error().WithContext(path));
  if (cache_.size() >= 64) cache_.clear();
  auto [pos, _] = cache_.emplace(path, std::move(*parsed));
  return &pos->second;
}

Result<Hash> TileNodeReader::ReadNode(int level, uint64_t index) {
  if (level < 0 || level >= 64 || index >= (size_ >> level) ||
      (index + 1) > (size_ >> level)) {
    return tl::make_unexpected(InvalidArgument("node " + std::to_string(level) + "/" +
                                               std::to_string(index) + " is not in a tree of " +
                                               std::to_string(size_)));
  }
  // A node of height h = 8·L + r is the root of 2^r consecutive level-8·L
  // hashes of the tile at level L.
  int tile_level = level / kTileHeight;
  int r = level % kTileHeight;
  uint64_t first = index << r;
  uint64_t count = uint64_t{1} << r;
  TileRef ref = TileForNode(tile_level, first, size_);
  uint64_t offset = first % kTileWidth;
  FB_ASSIGN_OR_RETURN(const std::vector<Hash>* tile, Tile(ref));
  if (offset + count > tile->size()) {
    return tl::make_unexpected(Internal("node outside its tile " + ref.Path()));
  }
  std::vector<Hash> layer(tile->begin() + static_cast<ptrdiff_t>(offset),
                          tile->begin() + static_cast<ptrdiff_t>(offset + count));
  while (layer.size() > 1) {
    for (size_t i = 0; i < layer.size() / 2; ++i) {
      layer[i] = HashChildren(hasher_, layer[2 * i], layer[2 * i + 1]);
    }
    layer.resize(layer.size() / 2);
  }
  return layer[0];
}

Result<Tiler> Tiler::Resume(uint64_t size, const FileReader& read) {
  Tiler t;
  t.size_ = size;
  for (int level = 0; level <= kMaxTileLevel; ++level) {
    uint64_t nodes = size >> (kTileHeight * level);
    if (nodes == 0) break;
    t.levels_.emplace_back();
    uint64_t width = nodes % kTileWidth;
    if (width == 0) continue;
    std::string path = TilePath(level, nodes / kTileWidth, width);
    FB_ASSIGN_OR_RETURN(std::string data, read(path));
    auto hashes = ParseTile(data, width);
    if (!hashes) return tl::make_unexpected(hashes.error().WithContext(path));
    t.levels_.back() = std::move(*hashes);
  }
  uint64_t width = size % kTileWidth;
  if (width != 0) {
    std::string path = EntryBundlePath(size / kTileWidth, width);
    FB_ASSIGN_OR_RETURN(t.bundle_, read(path));
    auto entries = ParseBundle(t.bundle_);
    if (!entries) return tl::make_unexpected(entries.error().WithContext(path));
    if (entries->size() != width) {
      return tl::make_unexpected(DataLoss(path + ": holds " + std::to_string(entries->size()) +
                                          " entries, want " + std::to_string(width)));
    }
  }
  return t;
}

void Tiler::Append(Sha256Hasher& hasher, std::string_view entry, const Hash& leaf_hash) {
  AppendToBundle(bundle_, entry);
  ++size_;
  if (size_ % kTileWidth == 0) {
    completed_.push_back({EntryBundlePath(size_ / kTileWidth - 1, kTileWidth), std::move(bundle_)});
    bundle_.clear();
  }
  Hash h = leaf_hash;
  for (size_t level = 0;; ++level) {
    if (levels_.size() <= level) levels_.emplace_back();
    std::vector<Hash>& tile = levels_[level];
    tile.push_back(h);
    if (tile.size() < kTileWidth) break;
    // The tile is full: write it and hash it into the level above.
    uint64_t nodes = size_ >> (kTileHeight * level);
    completed_.push_back(
        {TilePath(static_cast<int>(level), nodes / kTileWidth - 1, kTileWidth), EncodeTile(tile)});
    while (tile.size() > 1) {
      for (size_t i = 0; i < tile.size() / 2; ++i) {
        tile[i] = HashChildren(hasher, tile[2 * i], tile[2 * i + 1]);
      }
      tile.resize(tile.size() / 2);
    }
    h = tile[0];
    tile.clear();
  }
}

std::vector<TileFile> Tiler::Flush() {
  std::vector<TileFile> out = std::move(completed_);
  completed_.clear();
  for (size_t level = 0; level < levels_.size(); ++level) {
    const std::vector<Hash>& tile = levels_[level];
    if (tile.empty()) continue;
    uint64_t nodes = size_ >> (kTileHeight * level);
    out.push_back({TilePath(static_cast<int>(level), nodes / kTileWidth, tile.size()),
                   EncodeTile(tile)});
  }
  if (!bundle_.empty()) {
    out.push_back({EntryBundlePath(size_ / kTileWidth, size_ % kTileWidth), bundle_});
  }
  return out;
}

Hash Tiler::Root(Sha256Hasher& hasher) const {
  // Peaks, largest first: for each level from the top, the perfect groups of
  // the incomplete tile's hashes (binary decomposition of its width).
  std::vector<Hash> peaks;
  for (size_t level = levels_.size(); level-- > 0;) {
    const std::vector<Hash>& tile = levels_[level];
    size_t begin = 0;
    for (int bit = kTileHeight - 1; bit >= 0; --bit) {
      size_t group = size_t{1} << bit;
      if ((tile.size() & group) == 0) continue;
      peaks.push_back(RootFromLeafHashes(std::span<const Hash>(tile).subspan(begin, group)));
      begin += group;
    }
  }
  if (peaks.empty()) return EmptyRoot();
  Hash r = peaks.back();
  for (size_t i = peaks.size() - 1; i-- > 0;) r = HashChildren(hasher, peaks[i], r);
  return r;
}

}  // namespace firebreak::ledger
