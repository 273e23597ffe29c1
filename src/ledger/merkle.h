// RFC 9162 §2.1 Merkle tree hashing, inclusion and consistency proofs.
//
// Proof generation reads the hashes of perfect subtrees through a `NodeReader`
// (tiles on disk, a vector in memory); verification is pure. The code mirrors
// the RFC: each algorithm cites its section, numbers its steps as the RFC does
// and keeps the RFC's variable names (`fn`, `sn`, `fr`, `sr`).
//
// Error model: an invalid proof is a `ProofError` (a typed value, never a
// string); a node that cannot be read during generation is an `Error`.
// Thread model: free functions are thread-safe; they hash on a thread-local
// `Sha256Hasher`.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "base/crypto.h"
#include "base/error.h"

namespace firebreak::ledger {

using Hash = Digest;
inline constexpr size_t kHashSize = 32;

// Why a proof did not verify.
enum class ProofError {
  kEmptyTree,           // inclusion in a tree of size 0
  kIndexOutOfRange,     // leaf index >= tree size
  kOldSizeZero,         // consistency from size 0 (even 0 -> 0); see LEDGER.md
  kOldSizeTooLarge,     // consistency with size1 > size2
  kBadHashLength,       // a hash, root or proof element is not 32 bytes
  kProofNotEmpty,       // size1 == size2 but the proof has elements
  kProofEmpty,          // size1 < size2 but the proof is empty
  kWrongProofLength,    // the proof is too short or too long for the sizes
  kRootMismatch,        // the computed root differs from the given one
  kOldRootMismatch,     // consistency: the computed old root differs
};

std::string_view ProofErrorName(ProofError e);

using ProofStatus = tl::expected<void, ProofError>;

// RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 ‖ entry).
Hash HashLeaf(std::string_view entry);
Hash HashLeaf(Sha256Hasher& hasher, std::string_view entry);
// RFC 9162 §2.1.1: node hash = SHA-256(0x01 ‖ left ‖ right).
Hash HashChildren(const Hash& left, const Hash& right);
Hash HashChildren(Sha256Hasher& hasher, const Hash& left, const Hash& right);
// RFC 9162 §2.1.1: MTH({}) = SHA-256("").
const Hash& EmptyRoot();

// MTH(D[n]) computed directly from all `n` leaf hashes (RFC 9162 §2.1.1).
Hash RootFromLeafHashes(std::span<const Hash> leaf_hashes);

// Largest power of two strictly below `n`. REQUIRES: n > 1.
uint64_t LargestPowerOfTwoBelow(uint64_t n);

// Reads the root of the perfect subtree of height `level` whose leaves are
// [index << level, (index + 1) << level). Must only be asked for subtrees that
// lie entirely within the tree.
using NodeReader = std::function<Result<Hash>(int level, uint64_t index)>;

// MTH(D[begin:end]) where `begin` is a multiple of the smallest power of two
// >= end - begin (every range the RFC's recursions visit has this shape).
// REQUIRES: begin < end.
Result<Hash> SubtreeRoot(uint64_t begin, uint64_t end, const NodeReader& read);

// The root hash of the tree of size `size` (EmptyRoot() for 0).
Result<Hash> TreeRoot(uint64_t size, const NodeReader& read);

// RFC 9162 §2.1.3.1 PATH(m, D[n]). InvalidArgument if n == 0 or m >= n.
Result<std::vector<Hash>> InclusionProof(uint64_t m, uint64_t n, const NodeReader& read);

// RFC 9162 §2.1.4.1 PROOF(m, D[n]). InvalidArgument unless 0 < m <= n; the
// proof for m == n is empty.
Result<std::vector<Hash>> ConsistencyProof(uint64_t m, uint64_t n, const NodeReader& read);

// RFC 9162 §2.1.3.2: verifies that `leaf_hash` is leaf `leaf_index` of the
// tree of size `tree_size` with root `root_hash`.
ProofStatus VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                            std::span<const Hash> inclusion_path, const Hash& root_hash);

// RFC 9162 §2.1.4.2: verifies that the tree of size `first` and root
// `first_hash` is a prefix of the tree of size `second` and root `second_hash`.
// Edge cases as LEDGER.md fixes them: first == 0 is kOldSizeZero; first ==
// second holds iff the proof is empty and the roots are equal.
ProofStatus VerifyConsistency(uint64_t first, uint64_t second, const Hash& first_hash,
                              const Hash& second_hash, std::span<const Hash> consistency_path);

// The same two checks on untrusted bytes (a JSON vector, a receipt): any hash
// that is not 32 bytes is kBadHashLength. For first == second the roots are
// compared bytewise before any length check, as the public vectors expect.
ProofStatus VerifyInclusionBytes(uint64_t leaf_index, uint64_t tree_size,
                                 std::string_view leaf_hash,
                                 std::span<const std::string> inclusion_path,
                                 std::string_view root_hash);
ProofStatus VerifyConsistencyBytes(uint64_t first, uint64_t second, std::string_view first_hash,
                                   std::string_view second_hash,
                                   std::span<const std::string> consistency_path);

// ---- Subtrees (draft-ietf-plants-merkle-tree-certs §4; the vectors' subtree* folders) ----
//
// A subtree [start, end) is valid iff start < end and start is a multiple of
// the smallest power of two >= end - start; its hash is MTH(D[start:end]).

bool IsValidSubtree(uint64_t start, uint64_t end);

// Inclusion of leaf `index` in the subtree [start, end): the RFC 9162 path of
// index - start in the tree D[start:end].
Result<std::vector<Hash>> SubtreeInclusionProof(uint64_t index, uint64_t start, uint64_t end,
                                                const NodeReader& read);
// Consistency of the subtree [start, end) with the tree of size `n`: the RFC
// 9162 SUBPROOF recursion generalised to a subtree that need not start at 0.
Result<std::vector<Hash>> SubtreeConsistencyProof(uint64_t start, uint64_t end, uint64_t n,
                                                  const NodeReader& read);

ProofStatus VerifySubtreeInclusionBytes(uint64_t index, uint64_t start, uint64_t end,
                                        std::string_view leaf_hash,
                                        std::span<const std::string> proof,
                                        std::string_view subtree_hash);
// An empty subtree (start == end <= n) holds iff the proof is empty and
// `subtree_hash` is EmptyRoot(); [0, n) holds iff the proof is empty and the
// hashes are equal bytewise.
ProofStatus VerifySubtreeConsistencyBytes(uint64_t start, uint64_t end, uint64_t n,
                                          std::string_view subtree_hash,
                                          std::string_view root_hash,
                                          std::span<const std::string> proof);
ProofStatus VerifySubtreeConsistency(uint64_t start, uint64_t end, uint64_t n,
                                     const Hash& subtree_hash, const Hash& root_hash,
                                     std::span<const Hash> proof);

// Converts 32 raw bytes to a `Hash`; kBadHashLength otherwise.
tl::expected<Hash, ProofError> HashFromBytes(std::string_view bytes);

}  // namespace firebreak::ledger
