#include "ledger/tiles.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "ledger/compact_range.h"

namespace firebreak::ledger {
namespace {

TEST(TilesTest, IndexPathEncoding) {
  EXPECT_EQ(TileIndexPath(0), "000");
  EXPECT_EQ(TileIndexPath(5), "005");
  EXPECT_EQ(TileIndexPath(999), "999");
  EXPECT_EQ(TileIndexPath(1000), "x001/000");
  EXPECT_EQ(TileIndexPath(1234067), "x001/x234/067");
  EXPECT_EQ(TilePath(0, 1234067, 256), "tile/0/x001/x234/067");
  EXPECT_EQ(TilePath(2, 0, 1), "tile/2/000.p/1");
  EXPECT_EQ(EntryBundlePath(273, 112), "tile/entries/273.p/112");
  EXPECT_EQ(EntryBundlePath(1, 256), "tile/entries/001");
}

// LEDGER.md's check: size 70,000 -> 273 full level-0 tiles plus
// tile/0/273.p/112, tile/1/000, tile/1/001.p/17, tile/2/000.p/1.
TEST(TilesTest, TilesForSize70000) {
  std::vector<TileRef> tiles = TilesForSize(70000, false);
  std::set<std::string> paths;
  int full0 = 0;
  for (const TileRef& t : tiles) {
    paths.insert(t.Path());
    if (t.level == 0 && t.width == 256) ++full0;
  }
  EXPECT_EQ(full0, 273);
  EXPECT_EQ(tiles.size(), 273u + 4u);
  for (const char* p : {"tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"}) {
    EXPECT_TRUE(paths.count(p)) << p;
  }
  EXPECT_TRUE(paths.count("tile/0/272"));
  EXPECT_FALSE(paths.count("tile/0/273"));
  std::vector<TileRef> with_bundles = TilesForSize(70000, true);
  EXPECT_EQ(with_bundles.size(), tiles.size() + 274);
  EXPECT_EQ(with_bundles[273].Path(), "tile/entries/273.p/112");
  EXPECT_TRUE(TilesForSize(0, true).empty());
  EXPECT_EQ(TilesForSize(256, false).size(), 2u);  // tile/0/000 and tile/1/000.p/1
}

TEST(TilesTest, BundleRoundTripAndTruncation) {
  std::vector<std::string_view> entries = {"", "a", std::string_view("\0\1", 2), "hello"};
  std::string bundle = EncodeBundle(entries);
  auto parsed = ParseBundle(bundle);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ((*parsed)[i], entries[i]);
  for (size_t cut = 1; cut < bundle.size(); ++cut) {
    auto p = ParseBundle(std::string_view(bundle).substr(0, bundle.size() - cut));
    // Cutting inside an entry or its prefix fails; cutting exactly between
    // entries yields fewer entries (callers check the count).
    if (p) {
      EXPECT_LT(p->size(), entries.size());
    }
  }
  EXPECT_FALSE(ParseTile(std::string(33, 'x'), 1));
}

// The Tiler, flushed at irregular sizes, lays out exactly the tiles of each
// size; node hashes read back from them give the right roots and proofs;
// resuming from the partial tiles of a size continues identically.
TEST(TilesTest, TilerProducesTheTreeAndResumes) {
  std::map<std::string, std::string> files;
  FileReader read = [&](const std::string& p) -> Result<std::string> {
    auto it = files.find(p);
    if (it == files.end()) return tl::make_unexpected(NotFound(p));
    return it->second;
  };
  Sha256Hasher hasher;
  Tiler tiler;
  CompactRange range;
  std::vector<uint64_t> checkpoints;
  std::vector<Hash> roots;
  uint64_t next_flush = 1;
  constexpr uint64_t kSize = 70000;
  for (uint64_t i = 0; i < kSize; ++i) {
    std::string e = "entry " + std::to_string(i);
    Hash leaf = HashLeaf(e);
    tiler.Append(hasher, e, leaf);
    range.Append(hasher, leaf);
    if (tiler.size() == next_flush || tiler.size() == kSize) {
      for (TileFile& f : tiler.Flush()) files[f.path] = std::move(f.data);
      checkpoints.push_back(tiler.size());
      roots.push_back(range.Root());
      ASSERT_EQ(tiler.Root(hasher), range.Root()) << tiler.size();
      next_flush = next_flush * 3 / 2 + 7;
    }
  }
  for (size_t c = 0; c < checkpoints.size(); ++c) {
    uint64_t size = checkpoints[c];
    for (const TileRef& t : TilesForSize(size, true)) {
      ASSERT_TRUE(files.count(t.Path())) << "size " << size << " lacks " << t.Path();
    }
    TileNodeReader nodes(read, size);
    auto root = TreeRoot(size, nodes.AsNodeReader());
    ASSERT_TRUE(root) << root.error().ToString();
    EXPECT_EQ(*root, roots[c]) << size;
    uint64_t m = size / 3;
    auto proof = InclusionProof(m, size, nodes.AsNodeReader());
    ASSERT_TRUE(proof);
    EXPECT_TRUE(VerifyInclusion(m, size, HashLeaf("entry " + std::to_string(m)), *proof, *root));
    if (c > 0) {
      auto cp = ConsistencyProof(checkpoints[c - 1], size, nodes.AsNodeReader());
      ASSERT_TRUE(cp);
      EXPECT_TRUE(VerifyConsistency(checkpoints[c - 1], size, roots[c - 1], *root, *cp));
    }
  }
  // No tile for a size that was never checkpointed beyond what LEDGER.md lists.
  EXPECT_TRUE(files.count("tile/0/273.p/112"));
  EXPECT_TRUE(files.count("tile/2/000.p/1"));

  // Resume at a checkpointed size and continue: same files as before.
  uint64_t at = checkpoints[checkpoints.size() / 2];
  auto resumed = Tiler::Resume(at, read);
  ASSERT_TRUE(resumed) << resumed.error().ToString();
  std::map<std::string, std::string> again;
  for (uint64_t i = at; i < kSize; ++i) {
    std::string e = "entry " + std::to_string(i);
    resumed->Append(hasher, e, HashLeaf(e));
  }
  for (TileFile& f : resumed->Flush()) {
    ASSERT_TRUE(files.count(f.path)) << f.path;
    EXPECT_EQ(files[f.path], f.data) << f.path;
  }
  EXPECT_EQ(resumed->Root(hasher), roots.back());
}

TEST(TilesTest, NodeReaderRejectsNodesOutsideTheTree) {
  FileReader none = [](const std::string& p) -> Result<std::string> {
    return tl::make_unexpected(NotFound(p));
  };
  TileNodeReader nodes(none, 10);
  EXPECT_EQ(nodes.ReadNode(0, 10).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(nodes.ReadNode(3, 1).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(nodes.ReadNode(0, 3).error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace firebreak::ledger
