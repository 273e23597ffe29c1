// Fuzz target: the audit reads every entry of a log it does not trust, and
// replays what the entry says. Whatever an opened entry holds — missing
// members, wrong types, names outside the schema, huge lists — replaying it
// must not crash or trip a sanitizer; what it cannot replay is a mismatch,
// and every mismatch and violation is a sentence.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <boost/json.hpp>

#include "oversight/audit/internal/pack_index.h"
#include "oversight/audit/internal/replay.h"

using namespace firebreak;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto engine = oversight::internal::LoadEngine({std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/strict-firewall"});
  static const auto baseline = oversight::internal::LoadEngine({std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/npcc-2020"});
  if (!engine || !baseline) {
    std::fprintf(stderr, "replay_fuzz: the packs do not load\n");
    std::abort();
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec || !v.is_object()) return 0;
  const engine::Engine* baselines[] = {baseline.get()};
  auto out = oversight::internal::ReplayDecision(*engine, baselines, v.as_object());
  for (const std::string& m : out.mismatches) {
    if (m.empty()) std::abort();
  }
  for (const std::string& m : out.violations) {
    if (m.empty()) std::abort();
  }
  return 0;
}
