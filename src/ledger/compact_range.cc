#include "ledger/compact_range.h"

#include <bit>

namespace firebreak::ledger {

Result<CompactRange> CompactRange::FromPeaks(uint64_t size, std::vector<Hash> peaks) {
  if (static_cast<size_t>(std::popcount(size)) != peaks.size()) {
    return tl::make_unexpected(InvalidArgument(
        "compact range: size " + std::to_string(size) + " needs " +
        std::to_string(std::popcount(size)) + " peaks, got " + std::to_string(peaks.size())));
  }
  CompactRange r;
  r.size_ = size;
  r.peaks_ = std::move(peaks);
  return r;
}

Result<CompactRange> CompactRange::FromTree(uint64_t size, const NodeReader& read) {
  std::vector<Hash> peaks;
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    uint64_t bit = uint64_t{1} << level;
    if ((size & bit) == 0) continue;
    FB_ASSIGN_OR_RETURN(Hash h, read(level, begin >> level));
    peaks.push_back(h);
    begin += bit;
  }
  return FromPeaks(size, std::move(peaks));
}

void CompactRange::Append(Sha256Hasher& hasher, const Hash& leaf_hash) {
  peaks_.push_back(leaf_hash);
  // Each trailing one bit of the old size is a peak of the same height as the
  // new one to its right: merge them.
  for (uint64_t s = size_; (s & 1) == 1; s >>= 1) {
    Hash right = peaks_.back();
    peaks_.pop_back();
    peaks_.back() = HashChildren(hasher, peaks_.back(), right);
  }
  ++size_;
}

void CompactRange::Append(const Hash& leaf_hash) {
  Sha256Hasher hasher;
  Append(hasher, leaf_hash);
}

Hash CompactRange::Root(Sha256Hasher& hasher) const {
  if (peaks_.empty()) return EmptyRoot();
  Hash r = peaks_.back();
  for (size_t i = peaks_.size() - 1; i-- > 0;) r = HashChildren(hasher, peaks_[i], r);
  return r;
}

Hash CompactRange::Root() const {
  Sha256Hasher hasher;
  return Root(hasher);
}

}  // namespace firebreak::ledger
