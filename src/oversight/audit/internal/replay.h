// Replaying one decision entry: the request rebuilt from what the entry
// records (engine/replay.h: its clear part and its opened sealed part), decided again by the
// engine of the pack the entry names, compared with what was recorded; and
// the recorded decision checked against guarantees.
//
// Error model: a value the entry names that the pack's schema lacks is a
// mismatch (a sentence), not an `Error`.
// Thread model: free functions, thread-safe.
#pragma once

#include <span>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "engine/engine.h"

namespace firebreak::oversight::internal {

struct ReplayOutcome {
  enum class Kind { kReplayed, kPartly, kUnresolved } kind = Kind::kReplayed;
  std::vector<std::string> mismatches;  // how the replay differs, one sentence each
  std::vector<std::string> violations;  // guarantees the recorded decision breaks
  bool permit = false;                  // as recorded
  std::vector<std::string> rules;       // as recorded (listed ones)
};

// `e` is an opened decision entry (entry::Open). `engine` decided it
// (its hash is the entry's); `baselines` add their guarantees.
ReplayOutcome ReplayDecision(const engine::Engine& engine,
                             std::span<const engine::Engine* const> baselines,
                             const boost::json::object& e);

}  // namespace firebreak::oversight::internal
