// Random policies and requests over a schema, for property tests, the
// verifier's differential tests and the benchmarks. Deterministic for a seed.
//
// Thread model: `PolicyGenerator` is thread-compatible.
//
//   PolicyGenerator gen(schema, /*seed=*/7);
//   std::string rules = gen.Rules(/*count=*/20);
//   engine::Request r = gen.RandomRequest();
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "engine/request.h"
#include "policy/ir.h"

namespace firebreak::engine::testing {

class PolicyGenerator {
 public:
  PolicyGenerator(const policy::Schema& schema, uint64_t seed) : schema_(schema), rng_(seed) {}

  // A random condition of bounded depth, in the policy language.
  std::string Condition(int depth);
  // `count` forbid/permit rules named `<prefix><i>`.
  std::string Rules(int count, const std::string& prefix = "g");
  // `count` agreements named `<prefix><i>`, each for a random requester type
  // and purpose, with an extra condition.
  std::string Agreements(int count, const std::string& prefix = "a");
  // A normalisation from a random purpose to another.
  std::string Normalisation(const std::string& name);

  // A random request valid for the schema: sometimes without subject or
  // record, with 0–3 cases and random context values.
  Request RandomRequest();

  // Writes a pack `name` in `dir` importing `schema_dir`, with `body` split
  // into `files` files item by item (so the same items can be laid out
  // differently). Returns the pack directory.
  static std::string WritePack(const std::string& dir, const std::string& name,
                               const std::string& schema_dir, const std::string& body, int files,
                               uint64_t shuffle_seed);

  std::mt19937_64& rng() { return rng_; }

 private:
  std::string Pick(policy::EnumKind k);
  std::string PickList(policy::EnumKind k, int max);
  Mask RandomMask(policy::EnumKind k, int max_bits);
  int Uniform(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string Atom(bool in_case);

  const policy::Schema& schema_;
  std::mt19937_64 rng_;
};

}  // namespace firebreak::engine::testing
