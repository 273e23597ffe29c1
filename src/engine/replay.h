// Deciding a logged request again: the engine::Request rebuilt from what an
// opened decision entry records (its clear part and its sealed part, as
// entry::OpenParsed leaves it under "opened"), in a given pack's schema, and
// decided by that pack's engine. Used by the audit (which compares the
// result with what was recorded and checks guarantees) and by the console's
// replay of recent decisions against a candidate pack.
//
// Error model: a value the entry names that the schema lacks is a problem
// (one sentence, the first met), never an `Error`: the entry cannot be
// replayed in that schema.
// Thread model: free functions and a per-call reader; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "engine/engine.h"

namespace firebreak::engine {

// Translates the names an entry records into a schema's codes, keeping the
// first problem met.
class EntryReader {
 public:
  explicit EntryReader(const policy::Schema& s) : s_(s) {}

  // The code of `value` (0 and a problem when the schema lacks it).
  uint8_t One(policy::EnumKind k, std::string_view field, std::string_view value);
  // The set of the names in `names` (null: empty).
  policy::Mask Set(policy::EnumKind k, std::string_view field, const boost::json::array* names);
  void Fail(std::string why) {
    if (problem_.empty()) problem_ = std::move(why);
  }
  const std::string& problem() const { return problem_; }

 private:
  const policy::Schema& s_;
  std::string problem_;
};

// The request as entry `e` records it (`sealed` is its opened part, or an
// empty object), in `schema`'s codes, without a record's provenance.
Request RebuildRequest(const policy::Schema& schema, const boost::json::object& e,
                       const boost::json::object& sealed, EntryReader& reader);

// An entry decided again by one engine.
struct Redecision {
  enum class Kind {
    kDecided,     // decided by the engine
    kUnresolved,  // the person was not found: refused without evaluation, under any pack
    kNotReplayed  // see `problem`
  } kind = Kind::kNotReplayed;
  std::string problem;  // why it could not be replayed (one sentence)
  bool permit = false;
  policy::Mask disclosed = 0, obligations = 0;  // in the engine's schema
  std::vector<std::string> rules;               // the deciding rules, as Explain names them
};

// Decides opened decision entry `e` again with `engine`: one evaluation per
// record the entry lists (the permit is the union over the permitted ones,
// as the gateway combines them), or one without a record. An entry whose
// sealed part was not opened, or that names a value the schema lacks, is
// kNotReplayed.
Redecision Redecide(const Engine& engine, const boost::json::object& e);

}  // namespace firebreak::engine
