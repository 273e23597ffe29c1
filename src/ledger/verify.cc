#include "ledger/verify.h"

#include <algorithm>
#include <deque>
#include <future>

namespace firebreak::ledger {

Result<VerifyReport> VerifyLog(const FileReader& read, const NoteVerifier& log_key,
                               const std::string& old_checkpoint, const VerifyProgress& progress,
                               std::span<const std::string> present) {
  VerifyReport report;
  FB_ASSIGN_OR_RETURN(std::string note, read("checkpoint"));
  auto cp = OpenCheckpoint(note, log_key);
  if (!cp) return tl::make_unexpected(cp.error().WithContext("checkpoint"));
  report.checkpoint = *cp;
  const uint64_t size = cp->size;

  // Rebuild the tree from the bundles; compare each tile as it completes.
  Sha256Hasher hasher;
  Tiler tiler;
  auto compare = [&](const std::vector<TileFile>& files) -> Status {
    for (const TileFile& f : files) {
      auto stored = read(f.path);
      if (!stored) return tl::make_unexpected(stored.error().WithContext("tile " + f.path));
      if (*stored != f.data) {
        return tl::make_unexpected(
            DataLoss("tile " + f.path + " does not match the tile recomputed from the entries"));
      }
      ++report.tiles;
    }
    return Ok();
  };
  // Bundles are read, parsed and leaf-hashed a window ahead on a second
  // thread while this one builds and compares the tiles.
  struct Loaded {
    std::string data;
    std::vector<std::string_view> entries;
    std::vector<Hash> leaves;
  };
  constexpr uint64_t kWindow = 64;  // bundles per window
  const uint64_t bundles = (size + kTileWidth - 1) / kTileWidth;
  auto load = [&read, size](uint64_t first, uint64_t last) -> Result<std::vector<Loaded>> {
    Sha256Hasher h;
    std::vector<Loaded> out(last - first);
    for (uint64_t bundle = first; bundle < last; ++bundle) {
      Loaded& l = out[bundle - first];
      uint64_t width = std::min<uint64_t>(kTileWidth, size - bundle * kTileWidth);
      std::string path = EntryBundlePath(bundle, width);
      FB_ASSIGN_OR_RETURN(l.data, read(path));
      auto entries = ParseBundle(l.data);
      if (!entries) return tl::make_unexpected(entries.error().WithContext("bundle " + path));
      if (entries->size() != width) {
        return tl::make_unexpected(DataLoss("bundle " + path + " holds " +
                                            std::to_string(entries->size()) + " entries, want " +
                                            std::to_string(width)));
      }
      l.entries = std::move(*entries);
      l.leaves.reserve(width);
      for (std::string_view e : l.entries) l.leaves.push_back(HashLeaf(h, e));
    }
    return out;
  };
  // Two windows in flight: loading (mostly SHA-256 of the entries) is the
  // bottleneck, building the tiles is not.
  constexpr size_t kInFlight = 2;
  std::deque<std::future<Result<std::vector<Loaded>>>> ahead;
  uint64_t scheduled = 0;
  auto schedule = [&] {
    while (ahead.size() < kInFlight && scheduled < bundles) {
      uint64_t last = std::min(scheduled + kWindow, bundles);
      ahead.push_back(std::async(std::launch::async, load, scheduled, last));
      scheduled = last;
    }
  };
  auto drain = [&] {
    for (auto& f : ahead) f.wait();
  };
  schedule();
  while (!ahead.empty()) {
    Result<std::vector<Loaded>> window = ahead.front().get();
    ahead.pop_front();
    schedule();
    if (!window) {
      drain();
      return tl::make_unexpected(window.error());
    }
    for (const Loaded& l : *window) {
      for (size_t i = 0; i < l.entries.size(); ++i) tiler.Append(hasher, l.entries[i], l.leaves[i]);
      report.entries += l.entries.size();
      std::vector<TileFile> files = tiler.Flush();
      // The bundle itself was just parsed from the stored bytes (its encoding
      // is canonical), so only hash tiles need comparing; partial tiles only
      // at the checkpoint's size.
      std::vector<TileFile> check;
      for (TileFile& f : files) {
        if (f.path.rfind("tile/entries/", 0) == 0) continue;
        bool partial = f.path.find(".p/") != std::string::npos;
        if (!partial || tiler.size() == size) check.push_back(std::move(f));
      }
      Status st = compare(check);
      if (!st) {
        drain();
        return tl::make_unexpected(st.error());
      }
    }
    if (progress) progress(tiler.size(), size);
  }
  Hash root = tiler.Root(hasher);
  if (root != cp->root) {
    return tl::make_unexpected(DataLoss("the root recomputed from the entries differs from the "
                                        "signed checkpoint's root (size " +
                                        std::to_string(size) + ")"));
  }

  // Partial tiles and bundles kept for older checkpoints must be prefixes of
  // the (already verified) tiles of the current tree.
  for (const std::string& path : present) {
    // A writer's temporary file (left by a crash) is not part of the log.
    if (path.size() > 4 && path.substr(path.size() - 4) == ".tmp") continue;
    std::optional<TileRef> ref = ParseTilePath(path);
    if (!ref) {
      return tl::make_unexpected(DataLoss("unexpected file " + path + " in the tile tree"));
    }
    uint64_t nodes = ref->level == kEntriesLevel ? size : size >> (kTileHeight * ref->level);
    uint64_t first = ref->index * kTileWidth;
    // Tiles beyond the checkpoint are written before the next checkpoint is
    // signed; nothing signed covers them yet.
    if (first + ref->width > nodes) continue;
    if (ref->width == kTileWidth) {
      continue;  // full tiles of the current tree were compared above
    }
    TileRef current = TileForNode(ref->level, first, size);
    FB_ASSIGN_OR_RETURN(std::string stored, read(path));
    FB_ASSIGN_OR_RETURN(std::string full, read(current.Path()));
    if (ref->level == kEntriesLevel) {
      auto mine = ParseBundle(stored);
      auto theirs = ParseBundle(full);
      if (!mine || !theirs || mine->size() != ref->width ||
          std::string_view(full).substr(0, stored.size()) != stored) {
        return tl::make_unexpected(
            DataLoss("bundle " + path + " is not a prefix of " + current.Path()));
      }
    } else if (stored.size() != ref->width * kHashSize ||
               std::string_view(full).substr(0, stored.size()) != stored) {
      return tl::make_unexpected(DataLoss("tile " + path + " is not a prefix of " + current.Path()));
    }
    ++report.tiles;
  }

  if (!old_checkpoint.empty()) {
    auto old = OpenCheckpoint(old_checkpoint, log_key);
    if (!old) return tl::make_unexpected(old.error().WithContext("old checkpoint"));
    if (old->size > size) {
      return tl::make_unexpected(InvalidArgument(
          "old checkpoint size " + std::to_string(old->size) +
          " is larger than the current size " + std::to_string(size) + ": the log shrank"));
    }
    if (old->size > 0) {
      TileNodeReader nodes(read, size);
      FB_ASSIGN_OR_RETURN(std::vector<Hash> proof,
                          ConsistencyProof(old->size, size, nodes.AsNodeReader()));
      auto ok = VerifyConsistency(old->size, size, old->root, cp->root, proof);
      if (!ok) {
        return tl::make_unexpected(DataLoss(
            "the old checkpoint (size " + std::to_string(old->size) +
            ") is not consistent with the current one: " + std::string(ProofErrorName(ok.error()))));
      }
    } else if (old->root != EmptyRoot()) {
      return tl::make_unexpected(DataLoss("the old checkpoint of size 0 has a non-empty root"));
    }
    report.old_checked = true;
  }
  return report;
}

}  // namespace firebreak::ledger
