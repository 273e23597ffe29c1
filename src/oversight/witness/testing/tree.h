// Test helper: an in-memory Merkle tree with signed checkpoints and
// consistency proofs, to drive a witness in tests and benchmarks.
#pragma once

#include <string>
#include <vector>

#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/witness_protocol.h"

namespace firebreak::oversight::witness::testing {

class Tree {
 public:
  // A tree of leaves "<seed>/0", "<seed>/1", …; trees with the same seed
  // agree on every prefix.
  explicit Tree(std::string seed) : seed_(std::move(seed)) {}

  void Grow(uint64_t size) {
    while (leaves_.size() < size) {
      leaves_.push_back(ledger::HashLeaf(seed_ + "/" + std::to_string(leaves_.size())));
    }
  }
  // A tree that equals this one up to `prefix` leaves, then diverges.
  Tree Fork(uint64_t prefix, std::string seed) const {
    Tree t(std::move(seed));
    t.leaves_.assign(leaves_.begin(), leaves_.begin() + prefix);
    return t;
  }
  ledger::Hash Root(uint64_t size) {
    Grow(size);
    return ledger::RootFromLeafHashes(std::span(leaves_).first(size));
  }
  std::vector<ledger::Hash> Proof(uint64_t from, uint64_t to) {
    Grow(to);
    if (from == 0) return {};
    auto read = [this](int level, uint64_t index) -> Result<ledger::Hash> {
      uint64_t begin = index << level, n = uint64_t{1} << level;
      return ledger::RootFromLeafHashes(std::span(leaves_).subspan(begin, n));
    };
    return *ledger::ConsistencyProof(from, to, read);
  }
  // The signed checkpoint of size `size`.
  std::string Checkpoint(const ledger::NoteSigner& log, uint64_t size) {
    ledger::Checkpoint cp{log.name(), size, Root(size), {}};
    const ledger::NoteSigner* signers[] = {&log};
    return *ledger::SignNote(cp.Text(), signers);
  }
  // An add-checkpoint body from `old_size` to `size`.
  std::string Request(const ledger::NoteSigner& log, uint64_t old_size, uint64_t size) {
    return ledger::FormatAddCheckpoint({old_size, Proof(old_size, size), Checkpoint(log, size)});
  }

 private:
  std::string seed_;
  std::vector<ledger::Hash> leaves_;
};

}  // namespace firebreak::oversight::witness::testing
