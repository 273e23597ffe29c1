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
    while (levels_[0].size() < size) {
      Add(ledger::HashLeaf(seed_ + "/" + std::to_string(levels_[0].size())));
    }
  }
  // A tree that equals this one up to `prefix` leaves, then diverges.
  Tree Fork(uint64_t prefix, std::string seed) const {
    Tree t(std::move(seed));
    for (uint64_t i = 0; i < prefix; ++i) t.Add(levels_[0][i]);
    return t;
  }
  ledger::Hash Root(uint64_t size) {
    Grow(size);
    return *ledger::TreeRoot(size, Reader());
  }
  std::vector<ledger::Hash> Proof(uint64_t from, uint64_t to) {
    Grow(to);
    if (from == 0) return {};
    return *ledger::ConsistencyProof(from, to, Reader());
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
  // Appends a leaf hash and every perfect subtree it completes.
  void Add(const ledger::Hash& leaf) {
    levels_[0].push_back(leaf);
    for (size_t l = 0; levels_[l].size() % 2 == 0; ++l) {
      if (levels_.size() == l + 1) levels_.emplace_back();
      const auto& v = levels_[l];
      levels_[l + 1].push_back(ledger::HashChildren(v[v.size() - 2], v[v.size() - 1]));
    }
  }
  ledger::NodeReader Reader() const {
    return [this](int level, uint64_t index) -> Result<ledger::Hash> { return levels_[level][index]; };
  }

  std::string seed_;
  // levels_[l][i]: the root of the perfect subtree of 2^l leaves starting at i·2^l.
  std::vector<std::vector<ledger::Hash>> levels_{1};
};

}  // namespace firebreak::oversight::witness::testing
