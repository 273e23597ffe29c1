#include "ledger/merkle.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/files.h"
#include "ledger/compact_range.h"

namespace firebreak::ledger {
namespace {

namespace fs = std::filesystem;

std::string VectorsDir() { return std::string(FIREBREAK_SOURCE_DIR) + "/../shared/vectors"; }

std::string Hex(const Hash& h) { return HexEncode(DigestBytes(h)); }

Hash FromHex(std::string_view hex) { return *HashFromBytes(*HexDecode(hex)); }

// The RFC 6962 reference leaves and the roots of their first n, n = 1..8
// (certificate-transparency's merkle tests; also the vectors' trees).
const std::vector<std::string>& ReferenceLeaves() {
  static const std::vector<std::string> kLeaves = [] {
    std::vector<std::string> out;
    for (const char* hex : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                            "606162636465666768696a6b6c6d6e6f"}) {
      out.push_back(*HexDecode(hex));
    }
    return out;
  }();
  return kLeaves;
}

constexpr const char* kReferenceRoots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

// All perfect-subtree hashes of a tree, level by level: a NodeReader for tests.
class MemoryTree {
 public:
  void Append(const Hash& leaf) {
    if (levels_.empty()) levels_.emplace_back();
    levels_[0].push_back(leaf);
    for (size_t l = 0; levels_[l].size() % 2 == 0; ++l) {
      if (levels_.size() == l + 1) levels_.emplace_back();
      size_t n = levels_[l].size();
      levels_[l + 1].push_back(HashChildren(hasher_, levels_[l][n - 2], levels_[l][n - 1]));
    }
  }
  NodeReader Reader() {
    return [this](int level, uint64_t index) -> Result<Hash> {
      if (static_cast<size_t>(level) >= levels_.size() || index >= levels_[level].size()) {
        return tl::make_unexpected(NotFound("no node"));
      }
      return levels_[level][index];
    };
  }
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }

 private:
  Sha256Hasher hasher_;
  std::vector<std::vector<Hash>> levels_;
};

TEST(MerkleTest, EmptyRootIsSha256OfNothing) {
  EXPECT_EQ(Hex(EmptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(*TreeRoot(0, [](int, uint64_t) -> Result<Hash> {
              return tl::make_unexpected(Internal("unused"));
            })),
            Hex(EmptyRoot()));
}

TEST(MerkleTest, ReferenceTreeRootsForSizesZeroToEight) {
  std::vector<Hash> leaves;
  MemoryTree tree;
  CompactRange range;
  EXPECT_EQ(Hex(RootFromLeafHashes(leaves)), Hex(EmptyRoot()));
  EXPECT_EQ(Hex(range.Root()), Hex(EmptyRoot()));
  for (size_t n = 1; n <= 8; ++n) {
    Hash leaf = HashLeaf(ReferenceLeaves()[n - 1]);
    leaves.push_back(leaf);
    tree.Append(leaf);
    range.Append(leaf);
    SCOPED_TRACE("size " + std::to_string(n));
    EXPECT_EQ(Hex(RootFromLeafHashes(leaves)), kReferenceRoots[n - 1]);
    EXPECT_EQ(Hex(*TreeRoot(n, tree.Reader())), kReferenceRoots[n - 1]);
    EXPECT_EQ(Hex(range.Root()), kReferenceRoots[n - 1]);
    auto from_tree = CompactRange::FromTree(n, tree.Reader());
    ASSERT_TRUE(from_tree);
    EXPECT_EQ(Hex(from_tree->Root()), kReferenceRoots[n - 1]);
  }
}

TEST(MerkleTest, ReferenceTreeProofsAllIndicesAndSizes) {
  MemoryTree tree;
  for (const std::string& leaf : ReferenceLeaves()) tree.Append(HashLeaf(leaf));
  for (uint64_t n = 1; n <= 8; ++n) {
    Hash root = FromHex(kReferenceRoots[n - 1]);
    for (uint64_t m = 0; m < n; ++m) {
      auto proof = InclusionProof(m, n, tree.Reader());
      ASSERT_TRUE(proof);
      EXPECT_TRUE(VerifyInclusion(m, n, HashLeaf(ReferenceLeaves()[m]), *proof, root))
          << m << " in " << n;
      // The wrong leaf never verifies.
      EXPECT_FALSE(VerifyInclusion(m, n, HashLeaf("x"), *proof, root));
    }
    for (uint64_t m = 1; m <= n; ++m) {
      auto proof = ConsistencyProof(m, n, tree.Reader());
      ASSERT_TRUE(proof);
      EXPECT_TRUE(VerifyConsistency(m, n, FromHex(kReferenceRoots[m - 1]), root, *proof))
          << m << " -> " << n;
    }
  }
  // RFC 6962 test: the inclusion proof of leaf 0 in 8 has 3 elements, the
  // consistency proof 6 -> 8 has 3 and 2 -> 5 has 2.
  EXPECT_EQ(InclusionProof(0, 8, tree.Reader())->size(), 3u);
  EXPECT_EQ(ConsistencyProof(6, 8, tree.Reader())->size(), 3u);
  EXPECT_EQ(ConsistencyProof(2, 5, tree.Reader())->size(), 2u);
  EXPECT_FALSE(InclusionProof(8, 8, tree.Reader()));
  EXPECT_FALSE(InclusionProof(0, 0, tree.Reader()));
  EXPECT_FALSE(ConsistencyProof(0, 8, tree.Reader()));
  EXPECT_FALSE(ConsistencyProof(5, 4, tree.Reader()));
}

// Every proof for every index and size up to kMax, and the mutations that
// must fail: another index, another size, a flipped bit, a dropped hash.
TEST(MerkleTest, RoundTripEveryProofUpToManyLeaves) {
  constexpr uint64_t kMax = 800;
  MemoryTree tree;
  std::vector<Hash> roots = {EmptyRoot()};
  CompactRange range;
  for (uint64_t i = 0; i < kMax; ++i) {
    Hash leaf = HashLeaf("leaf " + std::to_string(i));
    tree.Append(leaf);
    range.Append(leaf);
    roots.push_back(range.Root());
  }
  NodeReader read = tree.Reader();
  uint64_t checked = 0;
  for (uint64_t n = 1; n <= kMax; ++n) {
    ASSERT_EQ(*TreeRoot(n, read), roots[n]);
    for (uint64_t m = 0; m < n; ++m) {
      Hash leaf = *read(0, m);
      auto proof = InclusionProof(m, n, read);
      ASSERT_TRUE(proof);
      ASSERT_TRUE(VerifyInclusion(m, n, leaf, *proof, roots[n])) << m << " in " << n;
      ++checked;
      if ((m * 7 + n) % 97 == 0) {  // a sample of mutations keeps the runtime modest
        if (n > 1) {
          EXPECT_FALSE(VerifyInclusion((m + 1) % n, n, leaf, *proof, roots[n]));
        }
        if (!proof->empty()) {
          std::vector<Hash> bad = *proof;
          bad[m % bad.size()][m % 32] ^= 1;
          EXPECT_FALSE(VerifyInclusion(m, n, leaf, bad, roots[n]));
          bad = *proof;
          bad.pop_back();
          EXPECT_FALSE(VerifyInclusion(m, n, leaf, bad, roots[n]));
        }
        std::vector<Hash> longer = *proof;
        longer.push_back(leaf);
        EXPECT_FALSE(VerifyInclusion(m, n, leaf, longer, roots[n]));
      }
    }
    for (uint64_t m = 1; m <= n; ++m) {
      auto proof = ConsistencyProof(m, n, read);
      ASSERT_TRUE(proof);
      ASSERT_TRUE(VerifyConsistency(m, n, roots[m], roots[n], *proof)) << m << " -> " << n;
      ++checked;
      if ((m * 13 + n) % 89 == 0 && m < n) {
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m - 1], roots[n], *proof));
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n - 1], *proof));
        std::vector<Hash> bad = *proof;
        bad[m % bad.size()][n % 32] ^= 0x80;
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], bad));
        if (m + 1 < n) {
          EXPECT_FALSE(VerifyConsistency(m + 1, n, roots[m], roots[n], *proof));
        }
      }
    }
  }
  EXPECT_EQ(checked, kMax * (kMax + 1));
}

// Larger trees around tile and power-of-two boundaries: every index and every
// old size for each, with the RFC's generation checked by its verification.
TEST(MerkleTest, RoundTripEveryIndexOfLargerTrees) {
  MemoryTree tree;
  CompactRange range;
  std::vector<Hash> roots = {EmptyRoot()};
  constexpr uint64_t kMax = 5000;
  for (uint64_t i = 0; i < kMax; ++i) {
    Hash leaf = HashLeaf("x" + std::to_string(i));
    tree.Append(leaf);
    range.Append(leaf);
    roots.push_back(range.Root());
  }
  NodeReader read = tree.Reader();
  for (uint64_t n : {2047u, 2048u, 2049u, 4095u, 4096u, 4097u, 5000u}) {
    for (uint64_t m = 0; m < n; ++m) {
      auto proof = InclusionProof(m, n, read);
      ASSERT_TRUE(proof);
      ASSERT_TRUE(VerifyInclusion(m, n, *read(0, m), *proof, roots[n])) << m << " in " << n;
      auto cproof = ConsistencyProof(m + 1, n, read);
      ASSERT_TRUE(cproof);
      ASSERT_TRUE(VerifyConsistency(m + 1, n, roots[m + 1], roots[n], *cproof))
          << m + 1 << " -> " << n;
    }
  }
}

// Subtree proofs (the MTC generalisation) round-trip for every valid subtree
// of trees up to 130 leaves.
TEST(MerkleTest, RoundTripSubtreeProofs) {
  MemoryTree tree;
  for (uint64_t i = 0; i < 130; ++i) tree.Append(HashLeaf("s" + std::to_string(i)));
  NodeReader read = tree.Reader();
  int checked = 0;
  for (uint64_t n = 1; n <= 130; ++n) {
    Hash root = *TreeRoot(n, read);
    for (uint64_t start = 0; start < n; ++start) {
      for (uint64_t end = start + 1; end <= n; ++end) {
        if (!IsValidSubtree(start, end)) continue;
        Hash sub = *SubtreeRoot(start, end, read);
        auto proof = SubtreeConsistencyProof(start, end, n, read);
        ASSERT_TRUE(proof);
        ASSERT_TRUE(VerifySubtreeConsistency(start, end, n, sub, root, *proof))
            << "[" << start << "," << end << ") in " << n;
        if (!proof->empty()) {
          std::vector<Hash> bad = *proof;
          bad.back()[3] ^= 4;
          ASSERT_FALSE(VerifySubtreeConsistency(start, end, n, sub, root, bad));
        }
        if (n == 130 || end == n) {
          uint64_t i = (start + end) / 2;
          auto ip = SubtreeInclusionProof(i, start, end, read);
          ASSERT_TRUE(ip);
          std::vector<std::string> raw;
          for (const Hash& h : *ip) raw.emplace_back(DigestBytes(h));
          ASSERT_TRUE(VerifySubtreeInclusionBytes(i, start, end, DigestBytes(*read(0, i)), raw,
                                                  DigestBytes(sub)));
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

// ---- Public vectors ----

std::vector<std::string> ProofBytes(const boost::json::value& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  for (const auto& h : v.as_array()) out.push_back(*Base64Decode(h.as_string().c_str()));
  return out;
}

std::string B64(const boost::json::object& o, const char* key) {
  return *Base64Decode(o.at(key).as_string().c_str());
}

uint64_t U64(const boost::json::object& o, const char* key) {
  return o.at(key).to_number<uint64_t>();
}

// Runs one vector; returns true iff our verdict matches wantErr.
// Sets `kind` to the folder kind it ran as.
bool RunVector(const fs::path& path, const boost::json::object& o, std::string& detail) {
  std::string p = path.generic_string();
  bool want_err = o.at("wantErr").as_bool();
  ProofStatus got;
  if (p.find("/subtreeinclusion/") != std::string::npos) {
    got = VerifySubtreeInclusionBytes(U64(o, "leafIdx"), U64(o, "start"), U64(o, "end"),
                                      B64(o, "leafHash"), ProofBytes(o.at("proof")),
                                      B64(o, "root"));
  } else if (p.find("/subtreeconsistency/") != std::string::npos) {
    got = VerifySubtreeConsistencyBytes(U64(o, "start"), U64(o, "end"), U64(o, "size"),
                                        B64(o, "root1"), B64(o, "root2"),
                                        ProofBytes(o.at("proof")));
  } else if (o.contains("leafIdx")) {
    got = VerifyInclusionBytes(U64(o, "leafIdx"), U64(o, "treeSize"), B64(o, "leafHash"),
                               ProofBytes(o.at("proof")), B64(o, "root"));
  } else {
    got = VerifyConsistencyBytes(U64(o, "size1"), U64(o, "size2"), B64(o, "root1"),
                                 B64(o, "root2"), ProofBytes(o.at("proof")));
  }
  detail = got ? "verified" : std::string(ProofErrorName(got.error()));
  return want_err == !got.has_value();
}

TEST(MerkleVectorsTest, EveryPublicVector) {
  fs::path dir = VectorsDir();
  if (!fs::is_directory(dir)) {
    GTEST_SKIP() << "test vectors not found at " << dir << " (the shared folder beside the repo)";
  }
  int ran = 0;
  int happy = 0;
  std::map<std::string, int> by_kind;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    auto text = ReadFile(e.path().string());
    ASSERT_TRUE(text) << text.error().ToString();
    boost::json::value v = boost::json::parse(*text);
    const boost::json::object& o = v.as_object();
    std::string detail;
    EXPECT_TRUE(RunVector(e.path(), o, detail))
        << e.path() << ": wantErr=" << o.at("wantErr").as_bool() << " but got " << detail;
    ++ran;
    if (!o.at("wantErr").as_bool()) ++happy;
    std::string rel = fs::relative(e.path(), dir).generic_string();
    by_kind[rel.substr(0, rel.find('/', rel.find('/') + 1))]++;
  }
  for (const auto& [kind, n] : by_kind) std::printf("  %-45s %d vectors\n", kind.c_str(), n);
  // 98 inclusion + 98 consistency + 204 subtree inclusion + 118 subtree
  // consistency + 1 real CT vector, as shipped.
  EXPECT_GE(ran, 519);
  EXPECT_GT(happy, 20);
}

TEST(MerkleVectorsTest, RealCertificateTransparencyPath) {
  fs::path file = fs::path(VectorsDir()) / "ct-real" / "inclusion-848049-of-3630887.json";
  if (!fs::exists(file)) GTEST_SKIP() << "vector not found at " << file;
  boost::json::value v = boost::json::parse(*ReadFile(file.string()));
  const auto& o = v.as_object();
  std::vector<std::string> proof = ProofBytes(o.at("proof"));
  ASSERT_EQ(proof.size(), 22u);
  EXPECT_TRUE(VerifyInclusionBytes(848049, 3630887, B64(o, "leafHash"), proof, B64(o, "root")));
  EXPECT_FALSE(VerifyInclusionBytes(848050, 3630887, B64(o, "leafHash"), proof, B64(o, "root")));
  EXPECT_FALSE(VerifyInclusionBytes(848049, 848050, B64(o, "leafHash"), proof, B64(o, "root")));
  proof[21][0] ^= 1;
  EXPECT_FALSE(VerifyInclusionBytes(848049, 3630887, B64(o, "leafHash"), proof, B64(o, "root")));
}

TEST(MerkleTest, EdgeCasesAsLedgerFixesThem) {
  Hash a = HashLeaf("a");
  std::vector<Hash> none;
  EXPECT_EQ(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), none).error(),
            ProofError::kOldSizeZero);
  EXPECT_EQ(VerifyConsistency(0, 1, EmptyRoot(), a, none).error(), ProofError::kOldSizeZero);
  EXPECT_EQ(VerifyConsistency(2, 1, a, a, none).error(), ProofError::kOldSizeTooLarge);
  EXPECT_TRUE(VerifyConsistency(3, 3, a, a, none));
  EXPECT_EQ(VerifyConsistency(3, 3, a, EmptyRoot(), none).error(), ProofError::kRootMismatch);
  std::vector<Hash> one = {a};
  EXPECT_EQ(VerifyConsistency(3, 3, a, a, one).error(), ProofError::kProofNotEmpty);
  EXPECT_EQ(VerifyInclusion(0, 0, a, none, a).error(), ProofError::kEmptyTree);
  EXPECT_EQ(VerifyInclusion(1, 1, a, none, a).error(), ProofError::kIndexOutOfRange);
  std::vector<std::string> short_hash = {"short"};
  EXPECT_EQ(VerifyInclusionBytes(0, 2, DigestBytes(a), short_hash, DigestBytes(a)).error(),
            ProofError::kBadHashLength);
}

}  // namespace
}  // namespace firebreak::ledger
