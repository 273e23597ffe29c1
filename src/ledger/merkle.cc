#include "ledger/merkle.h"

#include <bit>
#include <cstring>
#include <utility>

namespace firebreak::ledger {
namespace {

constexpr char kLeafPrefix[1] = {0x00};
constexpr char kNodePrefix[1] = {0x01};

Sha256Hasher& ThreadHasher() {
  thread_local Sha256Hasher hasher;
  return hasher;
}

std::string_view View(const Hash& h) { return DigestBytes(h); }

bool IsPowerOfTwo(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

constexpr uint64_t kTopBit = uint64_t{1} << 63;

// True iff `start` is a multiple of the smallest power of two >= `width`.
// A width above 2^63 rounds up to 2^64, of which only 0 is a multiple.
bool AlignedTo(uint64_t start, uint64_t width) {
  if (width > kTopBit) return start == 0;
  return start % std::bit_ceil(width) == 0;
}

}  // namespace

std::string_view ProofErrorName(ProofError e) {
  switch (e) {
    case ProofError::kEmptyTree: return "tree size is 0";
    case ProofError::kIndexOutOfRange: return "leaf index is not below the tree size";
    case ProofError::kOldSizeZero: return "consistency from size 0 is not a proof";
    case ProofError::kOldSizeTooLarge: return "old size is larger than new size";
    case ProofError::kBadHashLength: return "a hash is not 32 bytes";
    case ProofError::kProofNotEmpty: return "sizes are equal but the proof is not empty";
    case ProofError::kProofEmpty: return "the proof is empty";
    case ProofError::kWrongProofLength: return "the proof has the wrong number of hashes";
    case ProofError::kRootMismatch: return "the computed root does not match";
    case ProofError::kOldRootMismatch: return "the computed old root does not match";
  }
  return "unknown proof error";
}

Hash HashLeaf(Sha256Hasher& hasher, std::string_view entry) {
  return hasher.Hash2(std::string_view(kLeafPrefix, 1), entry);
}

Hash HashLeaf(std::string_view entry) { return HashLeaf(ThreadHasher(), entry); }

Hash HashChildren(Sha256Hasher& hasher, const Hash& left, const Hash& right) {
  return hasher.Hash3(std::string_view(kNodePrefix, 1), View(left), View(right));
}

Hash HashChildren(const Hash& left, const Hash& right) {
  return HashChildren(ThreadHasher(), left, right);
}

const Hash& EmptyRoot() {
  static const Hash kEmpty = Sha256("");
  return kEmpty;
}

uint64_t LargestPowerOfTwoBelow(uint64_t n) { return std::bit_floor(n - 1); }

// RFC 9162 §2.1.1, MTH(D[n]): split at k, the largest power of two < n.
Hash RootFromLeafHashes(std::span<const Hash> leaf_hashes) {
  size_t n = leaf_hashes.size();
  if (n == 0) return EmptyRoot();
  if (n == 1) return leaf_hashes[0];
  size_t k = LargestPowerOfTwoBelow(n);
  return HashChildren(RootFromLeafHashes(leaf_hashes.subspan(0, k)),
                      RootFromLeafHashes(leaf_hashes.subspan(k)));
}

Result<Hash> SubtreeRoot(uint64_t begin, uint64_t end, const NodeReader& read) {
  uint64_t width = end - begin;
  if (begin >= end || !AlignedTo(begin, width)) {
    return tl::make_unexpected(
        Internal("SubtreeRoot: [" + std::to_string(begin) + ", " + std::to_string(end) +
                 ") is not a subtree of the RFC 9162 recursion"));
  }
  if (IsPowerOfTwo(width)) {
    int level = std::countr_zero(width);
    return read(level, begin >> level);
  }
  // The left part is perfect, the right part ragged (RFC 9162 §2.1.1).
  uint64_t k = LargestPowerOfTwoBelow(width);
  int level = std::countr_zero(k);
  FB_ASSIGN_OR_RETURN(Hash left, read(level, begin >> level));
  FB_ASSIGN_OR_RETURN(Hash right, SubtreeRoot(begin + k, end, read));
  return HashChildren(left, right);
}

Result<Hash> TreeRoot(uint64_t size, const NodeReader& read) {
  if (size == 0) return EmptyRoot();
  return SubtreeRoot(0, size, read);
}

namespace {

// PATH(m, D[begin:end]) of RFC 9162 §2.1.3.1, with m relative to `begin`.
Status Path(uint64_t m, uint64_t begin, uint64_t end, const NodeReader& read,
            std::vector<Hash>& out) {
  uint64_t n = end - begin;
  if (n == 1) return Ok();  // PATH(0, {d(0)}) = {}
  uint64_t k = LargestPowerOfTwoBelow(n);
  if (m < k) {
    // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])
    FB_RETURN_IF_ERROR(Path(m, begin, begin + k, read, out));
    FB_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(begin + k, end, read));
    out.push_back(h);
  } else {
    // PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])
    FB_RETURN_IF_ERROR(Path(m - k, begin + k, end, read, out));
    FB_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(begin, begin + k, read));
    out.push_back(h);
  }
  return Ok();
}

// SUBPROOF(m, D[begin:end], b) of RFC 9162 §2.1.4.1, m relative to `begin`.
Status Subproof(uint64_t m, uint64_t begin, uint64_t end, bool b, const NodeReader& read,
                std::vector<Hash>& out) {
  uint64_t n = end - begin;
  if (m == n) {
    // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
    if (!b) {
      FB_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(begin, end, read));
      out.push_back(h);
    }
    return Ok();
  }
  uint64_t k = LargestPowerOfTwoBelow(n);
  if (m <= k) {
    // SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
    FB_RETURN_IF_ERROR(Subproof(m, begin, begin + k, b, read, out));
    FB_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(begin + k, end, read));
    out.push_back(h);
  } else {
    // SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
    FB_RETURN_IF_ERROR(Subproof(m - k, begin + k, end, false, read, out));
    FB_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(begin, begin + k, read));
    out.push_back(h);
  }
  return Ok();
}

}  // namespace

Result<std::vector<Hash>> InclusionProof(uint64_t m, uint64_t n, const NodeReader& read) {
  if (n == 0 || m >= n) {
    return tl::make_unexpected(InvalidArgument("inclusion proof: index " + std::to_string(m) +
                                               " is not below tree size " + std::to_string(n)));
  }
  std::vector<Hash> out;
  FB_RETURN_IF_ERROR(Path(m, 0, n, read, out));
  return out;
}

Result<std::vector<Hash>> ConsistencyProof(uint64_t m, uint64_t n, const NodeReader& read) {
  if (m == 0 || m > n) {
    return tl::make_unexpected(InvalidArgument("consistency proof: need 0 < old size <= size, got " +
                                               std::to_string(m) + " and " + std::to_string(n)));
  }
  std::vector<Hash> out;
  if (m == n) return out;
  // PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
  FB_RETURN_IF_ERROR(Subproof(m, 0, n, true, read, out));
  return out;
}

// RFC 9162 §2.1.3.2, steps numbered as in the RFC.
ProofStatus VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                            std::span<const Hash> inclusion_path, const Hash& root_hash) {
  if (tree_size == 0) return tl::make_unexpected(ProofError::kEmptyTree);
  // 1. Compare leaf_index against tree_size. If leaf_index is greater than or
  //    equal to tree_size, then fail the proof verification.
  if (leaf_index >= tree_size) return tl::make_unexpected(ProofError::kIndexOutOfRange);
  Sha256Hasher& hasher = ThreadHasher();
  // 2. Set fn to leaf_index and sn to tree_size - 1.
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  // 3. Set r to hash.
  Hash r = leaf_hash;
  // 4. For each value p in the inclusion_path array:
  for (const Hash& p : inclusion_path) {
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn == 0) return tl::make_unexpected(ProofError::kWrongProofLength);
    // b. If LSB(fn) is set, or if fn is equal to sn, then:
    if ((fn & 1) == 1 || fn == sn) {
      // 1. Set r to HASH(0x01 || p || r).
      r = HashChildren(hasher, p, r);
      // 2. If LSB(fn) is not set, then right-shift both fn and sn equally
      //    until either LSB(fn) is set or fn is 0.
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      // Otherwise: 1. Set r to HASH(0x01 || r || p).
      r = HashChildren(hasher, r, p);
    }
    // c. Finally, right-shift both fn and sn one time.
    fn >>= 1;
    sn >>= 1;
  }
  // 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0
  //    and r and the root_hash are equal, then the log has proven the
  //    inclusion of hash. Otherwise, fail the proof verification.
  if (sn != 0) return tl::make_unexpected(ProofError::kWrongProofLength);
  if (r != root_hash) return tl::make_unexpected(ProofError::kRootMismatch);
  return {};
}

namespace {

// Steps 1-6 of RFC 9162 §2.1.4.2 and the `sn` check of step 7: the roots
// (fr, sr) the proof leads to. REQUIRES: 0 < first < second.
tl::expected<std::pair<Hash, Hash>, ProofError> ConsistencyRoots(
    uint64_t first, uint64_t second, const Hash& first_hash,
    std::span<const Hash> consistency_path) {
  Sha256Hasher& hasher = ThreadHasher();
  // 1. If consistency_path is an empty array, stop and fail the proof
  //    verification.
  if (consistency_path.empty()) return tl::make_unexpected(ProofError::kProofEmpty);
  // 2. If first is an exact power of 2, then prepend first_hash to the
  //    consistency_path array.
  std::vector<Hash> path;
  path.reserve(consistency_path.size() + 1);
  if (IsPowerOfTwo(first)) path.push_back(first_hash);
  path.insert(path.end(), consistency_path.begin(), consistency_path.end());
  // 3. Set fn to first - 1 and sn to second - 1.
  uint64_t fn = first - 1;
  uint64_t sn = second - 1;
  // 4. If LSB(fn) is set, then right-shift both fn and sn equally until
  //    LSB(fn) is not set.
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  // 5. Set both fr and sr to the first value in the consistency_path array.
  Hash fr = path[0];
  Hash sr = path[0];
  // 6. For each subsequent value c in the consistency_path array:
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn == 0) return tl::make_unexpected(ProofError::kWrongProofLength);
    // b. If LSB(fn) is set, or if fn is equal to sn, then:
    if ((fn & 1) == 1 || fn == sn) {
      // 1. Set fr to HASH(0x01 || c || fr).
      fr = HashChildren(hasher, c, fr);
      // 2. Set sr to HASH(0x01 || c || sr).
      sr = HashChildren(hasher, c, sr);
      // 3. If LSB(fn) is not set, then right-shift both fn and sn equally
      //    until either LSB(fn) is set or fn is 0.
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      // Otherwise: 1. Set sr to HASH(0x01 || sr || c).
      sr = HashChildren(hasher, sr, c);
    }
    // c. Finally, right-shift both fn and sn one time.
    fn >>= 1;
    sn >>= 1;
  }
  // 7. (part) ... and that sn is 0.
  if (sn != 0) return tl::make_unexpected(ProofError::kWrongProofLength);
  return std::make_pair(fr, sr);
}

}  // namespace

// RFC 9162 §2.1.4.2, steps numbered as in the RFC.
ProofStatus VerifyConsistency(uint64_t first, uint64_t second, const Hash& first_hash,
                              const Hash& second_hash, std::span<const Hash> consistency_path) {
  // Preconditions the RFC leaves to the caller (LEDGER.md, edge cases).
  if (first > second) return tl::make_unexpected(ProofError::kOldSizeTooLarge);
  if (first == 0) return tl::make_unexpected(ProofError::kOldSizeZero);
  if (first == second) {
    if (!consistency_path.empty()) return tl::make_unexpected(ProofError::kProofNotEmpty);
    if (first_hash != second_hash) return tl::make_unexpected(ProofError::kRootMismatch);
    return {};
  }
  auto roots = ConsistencyRoots(first, second, first_hash, consistency_path);
  if (!roots) return tl::make_unexpected(roots.error());
  const auto& [fr, sr] = *roots;
  // 7. Verify that the fr calculated is equal to the first_hash supplied, that
  //    the sr calculated is equal to the second_hash supplied, and that sn is 0.
  if (fr != first_hash) return tl::make_unexpected(ProofError::kOldRootMismatch);
  if (sr != second_hash) return tl::make_unexpected(ProofError::kRootMismatch);
  return {};
}

tl::expected<Hash, ProofError> HashFromBytes(std::string_view bytes) {
  if (bytes.size() != kHashSize) return tl::make_unexpected(ProofError::kBadHashLength);
  Hash h;
  std::memcpy(h.data(), bytes.data(), kHashSize);
  return h;
}

namespace {

tl::expected<std::vector<Hash>, ProofError> HashesFromBytes(std::span<const std::string> in) {
  std::vector<Hash> out;
  out.reserve(in.size());
  for (const std::string& s : in) {
    auto h = HashFromBytes(s);
    if (!h) return tl::make_unexpected(h.error());
    out.push_back(*h);
  }
  return out;
}

}  // namespace

ProofStatus VerifyInclusionBytes(uint64_t leaf_index, uint64_t tree_size,
                                 std::string_view leaf_hash,
                                 std::span<const std::string> inclusion_path,
                                 std::string_view root_hash) {
  if (tree_size == 0) return tl::make_unexpected(ProofError::kEmptyTree);
  if (leaf_index >= tree_size) return tl::make_unexpected(ProofError::kIndexOutOfRange);
  auto leaf = HashFromBytes(leaf_hash);
  if (!leaf) return tl::make_unexpected(leaf.error());
  auto root = HashFromBytes(root_hash);
  if (!root) return tl::make_unexpected(root.error());
  auto path = HashesFromBytes(inclusion_path);
  if (!path) return tl::make_unexpected(path.error());
  return VerifyInclusion(leaf_index, tree_size, *leaf, *path, *root);
}

ProofStatus VerifyConsistencyBytes(uint64_t first, uint64_t second, std::string_view first_hash,
                                   std::string_view second_hash,
                                   std::span<const std::string> consistency_path) {
  if (first > second) return tl::make_unexpected(ProofError::kOldSizeTooLarge);
  if (first == 0) return tl::make_unexpected(ProofError::kOldSizeZero);
  if (first == second) {
    // Bytewise, before any length check (the public vectors use short dummies).
    if (!consistency_path.empty()) return tl::make_unexpected(ProofError::kProofNotEmpty);
    if (first_hash != second_hash) return tl::make_unexpected(ProofError::kRootMismatch);
    return {};
  }
  auto h1 = HashFromBytes(first_hash);
  if (!h1) return tl::make_unexpected(h1.error());
  auto h2 = HashFromBytes(second_hash);
  if (!h2) return tl::make_unexpected(h2.error());
  auto path = HashesFromBytes(consistency_path);
  if (!path) return tl::make_unexpected(path.error());
  return VerifyConsistency(first, second, *h1, *h2, *path);
}

// ---- Subtrees ----

bool IsValidSubtree(uint64_t start, uint64_t end) {
  return start < end && AlignedTo(start, end - start);
}

Result<std::vector<Hash>> SubtreeInclusionProof(uint64_t index, uint64_t start, uint64_t end,
                                                const NodeReader& read) {
  if (!IsValidSubtree(start, end) || index < start || index >= end) {
    return tl::make_unexpected(InvalidArgument("subtree inclusion: leaf " + std::to_string(index) +
                                               " not in a valid subtree [" +
                                               std::to_string(start) + ", " +
                                               std::to_string(end) + ")"));
  }
  std::vector<Hash> out;
  FB_RETURN_IF_ERROR(Path(index - start, start, end, read, out));
  return out;
}

namespace {

// SUBPROOF of RFC 9162 §2.1.4.1 for the subtree [start, end) inside
// D[lo:hi]; with start == 0 it is the RFC's recursion exactly.
Status SubtreeSubproof(uint64_t start, uint64_t end, uint64_t lo, uint64_t hi, bool b,
                       const NodeReader& read, std::vector<Hash>& out) {
  if (start == lo && end == hi) {
    if (!b) {
      FB_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(lo, hi, read));
      out.push_back(h);
    }
    return Ok();
  }
  uint64_t k = LargestPowerOfTwoBelow(hi - lo);
  if (end <= lo + k) {
    // Only in the left subtree: prove it there, commit to D[k:n].
    FB_RETURN_IF_ERROR(SubtreeSubproof(start, end, lo, lo + k, b, read, out));
    FB_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(lo + k, hi, read));
    out.push_back(h);
  } else if (start >= lo + k) {
    // Only in the right subtree: prove it there, commit to D[0:k].
    FB_RETURN_IF_ERROR(SubtreeSubproof(start, end, lo + k, hi, b, read, out));
    FB_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(lo, lo + k, read));
    out.push_back(h);
  } else {
    // start == lo and the subtree covers D[0:k]: as the RFC's m > k case.
    FB_RETURN_IF_ERROR(SubtreeSubproof(lo + k, end, lo + k, hi, false, read, out));
    FB_ASSIGN_OR_RETURN(Hash h, SubtreeRoot(lo, lo + k, read));
    out.push_back(h);
  }
  return Ok();
}

// Number of hashes in PROOF(m, D[n]) (RFC 9162 §2.1.4.1), 0 < m <= n.
size_t ConsistencyProofSize(uint64_t m, uint64_t n, bool b) {
  if (m == n) return b ? 0 : 1;
  uint64_t k = LargestPowerOfTwoBelow(n);
  if (m <= k) return ConsistencyProofSize(m, k, b) + 1;
  return ConsistencyProofSize(m - k, n - k, false) + 1;
}

}  // namespace

Result<std::vector<Hash>> SubtreeConsistencyProof(uint64_t start, uint64_t end, uint64_t n,
                                                  const NodeReader& read) {
  if (!IsValidSubtree(start, end) || end > n) {
    return tl::make_unexpected(InvalidArgument("subtree consistency: [" + std::to_string(start) +
                                               ", " + std::to_string(end) +
                                               ") is not a valid subtree of a tree of " +
                                               std::to_string(n)));
  }
  std::vector<Hash> out;
  FB_RETURN_IF_ERROR(SubtreeSubproof(start, end, 0, n, true, read, out));
  return out;
}

// The subtree [start, end) sits in N = [start, min(start + B, n)), B the
// smallest power of two >= end - start; N is node start / B at height log2(B)
// of the tree of size n (ragged if it is the last). The proof is therefore
// the RFC 9162 consistency proof from end - start to |N| inside N, followed by
// the RFC 9162 inclusion path of N in the tree of ceil(n / B) such nodes.
ProofStatus VerifySubtreeConsistency(uint64_t start, uint64_t end, uint64_t n,
                                     const Hash& subtree_hash, const Hash& root_hash,
                                     std::span<const Hash> proof) {
  if (start > end || end > n) return tl::make_unexpected(ProofError::kOldSizeTooLarge);
  if (start == end) {
    if (!proof.empty()) return tl::make_unexpected(ProofError::kProofNotEmpty);
    if (subtree_hash != EmptyRoot()) return tl::make_unexpected(ProofError::kOldRootMismatch);
    return {};
  }
  if (!IsValidSubtree(start, end)) return tl::make_unexpected(ProofError::kIndexOutOfRange);
  uint64_t s = end - start;
  if (s > kTopBit) return tl::make_unexpected(ProofError::kIndexOutOfRange);
  uint64_t big_b = std::bit_ceil(s);
  uint64_t local_size = std::min(big_b, n - start);
  Hash node = subtree_hash;
  size_t used = 0;
  if (local_size != s) {
    used = ConsistencyProofSize(s, local_size, true);
    if (proof.size() < used) return tl::make_unexpected(ProofError::kWrongProofLength);
    auto roots = ConsistencyRoots(s, local_size, subtree_hash, proof.subspan(0, used));
    if (!roots) return tl::make_unexpected(roots.error());
    if (roots->first != subtree_hash) return tl::make_unexpected(ProofError::kOldRootMismatch);
    node = roots->second;
  }
  int level = std::countr_zero(big_b);
  uint64_t nodes = (n >> level) + ((n & (big_b - 1)) != 0 ? 1 : 0);
  return VerifyInclusion(start >> level, nodes, node, proof.subspan(used), root_hash);
}

ProofStatus VerifySubtreeInclusionBytes(uint64_t index, uint64_t start, uint64_t end,
                                        std::string_view leaf_hash,
                                        std::span<const std::string> proof,
                                        std::string_view subtree_hash) {
  if (!IsValidSubtree(start, end)) return tl::make_unexpected(ProofError::kEmptyTree);
  if (index < start || index >= end) return tl::make_unexpected(ProofError::kIndexOutOfRange);
  return VerifyInclusionBytes(index - start, end - start, leaf_hash, proof, subtree_hash);
}

ProofStatus VerifySubtreeConsistencyBytes(uint64_t start, uint64_t end, uint64_t n,
                                          std::string_view subtree_hash,
                                          std::string_view root_hash,
                                          std::span<const std::string> proof) {
  if (start > end || end > n) return tl::make_unexpected(ProofError::kOldSizeTooLarge);
  if (start == 0 && end == n && n > 0) {
    // The whole tree: bytewise, before any length check (as the vectors expect).
    if (!proof.empty()) return tl::make_unexpected(ProofError::kProofNotEmpty);
    if (subtree_hash != root_hash) return tl::make_unexpected(ProofError::kRootMismatch);
    return {};
  }
  auto h1 = HashFromBytes(subtree_hash);
  if (!h1) return tl::make_unexpected(h1.error());
  Hash root{};
  if (start != end) {
    auto h2 = HashFromBytes(root_hash);
    if (!h2) return tl::make_unexpected(h2.error());
    root = *h2;
  }
  auto path = HashesFromBytes(proof);
  if (!path) return tl::make_unexpected(path.error());
  return VerifySubtreeConsistency(start, end, n, *h1, root, *path);
}

}  // namespace firebreak::ledger
