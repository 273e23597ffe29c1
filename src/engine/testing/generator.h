// Random policy sets and requests for the engine's property tests, the
// verifier's differential tests and the benchmarks: conditions over every attribute and operator of the language
// (ids, context values of every type, quantifiers, `is known`),
// normalisations, agreements and guarantees, and requests that hit the
// policy's own literals and boundaries. Deterministic for a seed.
//
// Thread model: `Generator` is thread-compatible.
//
//   Generator gen(schema, /*seed=*/1);
//   std::string body = gen.PolicyBody({});
//   WritePack(dir, "gen", schema_dir, body, "national");
//   engine::Request r = gen.RandomRequest(/*max_cases=*/3);
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/request.h"
#include "policy/ir.h"

namespace firebreak::engine::testing {

// A small schema (few values per enum, so random rules and requests meet
// often) with one context value of every type.
std::string SyntheticSchemaText();

struct BodyOptions {
  int forbids = 3;
  int permits = 5;
  int agreements = 2;
  int normalisations = 2;
  int guarantees = 4;
  int depth = 3;
  std::string prefix = "g";
};

class Generator {
 public:
  Generator(const policy::Schema& schema, uint64_t seed) : schema_(schema), rng_(seed) {}

  std::string Condition(int depth, bool in_case = false, int quantifier_depth = 0);
  // Rules, agreements, normalisations and guarantees, items separated by
  // blank lines.
  std::string PolicyBody(const BodyOptions& o);
  std::string Agreement(const std::string& name);
  // `count` agreements named `<prefix><i>`, separated by blank lines.
  std::string Agreements(int count, const std::string& prefix = "a");

  // A request valid for the schema, using the ids and numbers that the
  // generated conditions mention (and others).
  engine::Request RandomRequest(size_t max_cases);
  // Changes 1–3 random facts of `r` (a field, a set member, a case, a group's
  // presence, a context value), keeping it valid and within `max_cases`.
  void Mutate(engine::Request& r, size_t max_cases);

  std::mt19937_64& rng() { return rng_; }

 private:
  int Uniform(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string Pick(policy::EnumKind k);
  std::string PickList(policy::EnumKind k, int max);
  std::string Atom(bool in_case, int quantifier_depth);
  policy::Mask RandomMask(policy::EnumKind k, int percent);

  const policy::Schema& schema_;
  std::mt19937_64 rng_;
};

// Writes pack `name` (all items of `body` in one file) under `dir`,
// importing `schema_dir` (absolute). Returns the pack directory.
std::string WritePack(const std::string& dir, const std::string& name, const std::string& schema_dir,
                      const std::string& body, const std::string& layer = "national");

// Like WritePack, but deals the items of `body` (separated by blank lines)
// into `files` files, shuffled first when `shuffle_seed` is not 0, so the same
// set can be laid out differently.
std::string WritePackSplit(const std::string& dir, const std::string& name,
                           const std::string& schema_dir, const std::string& body, int files,
                           uint64_t shuffle_seed);

// Writes the synthetic schema as pack `schema` under `dir`; returns its
// directory.
std::string WriteSyntheticSchema(const std::string& dir);

}  // namespace firebreak::engine::testing
