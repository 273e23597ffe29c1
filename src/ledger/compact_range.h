// The compact range [0, size) a sequencer keeps: the roots ("peaks") of the
// perfect subtrees that the binary decomposition of `size` splits the tree
// into, largest first. Appending a leaf merges equal-height peaks; the root of
// the whole tree folds the peaks from the right (RFC 9162 §2.1.1).
//
// Error model: `FromPeaks` rejects a peak list that does not fit the size.
// Thread model: thread-compatible.
//
//   CompactRange range;
//   range.Append(HashLeaf("entry"));
//   Hash root = range.Root();
#pragma once

#include <cstdint>
#include <vector>

#include "base/crypto.h"
#include "base/error.h"
#include "ledger/merkle.h"

namespace firebreak::ledger {

class CompactRange {
 public:
  CompactRange() = default;

  // A range of `size` leaves whose peaks are `peaks` (largest first). There
  // must be exactly popcount(size) of them.
  static Result<CompactRange> FromPeaks(uint64_t size, std::vector<Hash> peaks);

  // The compact range of a tree of `size` leaves read through `read`.
  static Result<CompactRange> FromTree(uint64_t size, const NodeReader& read);

  void Append(Sha256Hasher& hasher, const Hash& leaf_hash);
  void Append(const Hash& leaf_hash);

  // MTH of the leaves so far; EmptyRoot() for an empty range.
  Hash Root(Sha256Hasher& hasher) const;
  Hash Root() const;

  uint64_t size() const { return size_; }
  const std::vector<Hash>& peaks() const { return peaks_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> peaks_;
};

}  // namespace firebreak::ledger
