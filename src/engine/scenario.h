// Data-driven policy tests (`.fbt` files; format in docs/language.md, "Policy
// tests"): requests with their expected decisions, run against a pack.
// Used by `firebreak test` and by the gtest runner over policies/.
//
// Error model: a malformed test file is an `Error` naming file and line; a
// failing scenario is a value (`ScenarioResult`).
// Thread model: `ScenarioRunner` is thread-compatible (it caches engines).
//
//   FB_ASSIGN_OR_RETURN(auto scenarios, ParseScenarioFile("policies/uk/a/scenarios.fbt"));
//   ScenarioRunner runner;
//   for (const Scenario& s : scenarios) if (!runner.Run(s).passed) ...
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "base/error.h"
#include "engine/engine.h"

namespace firebreak::engine {

struct ScenarioExpectation {
  std::optional<std::string> decision;
  std::optional<std::set<std::string>> disclosed, withheld, rules, obligations;
  std::optional<std::string> purpose;
  std::optional<std::string> error;
};

struct Scenario {
  std::string name;
  std::string file;
  int line = 0;
  std::vector<std::string> policy_dirs;  // resolved paths
  boost::json::value request;
  ScenarioExpectation expect;
};

Result<std::vector<Scenario>> ParseScenarioFile(const std::string& path);
Result<std::vector<Scenario>> ParseScenarioText(const std::string& path, const std::string& text);

// The `.fbt` files at or below `path`, sorted.
Result<std::vector<std::string>> FindScenarioFiles(const std::string& path);

struct ScenarioResult {
  bool passed = false;
  std::string message;  // why it failed, naming each mismatch
  boost::json::value decision;  // the decision, when one was made
};

class ScenarioRunner {
 public:
  ScenarioResult Run(const Scenario& s);

 private:
  struct Loaded {
    std::shared_ptr<const Engine> engine;
    std::string diagnostics;
  };
  const Loaded& Load(const std::vector<std::string>& dirs);
  std::map<std::vector<std::string>, Loaded> cache_;
};

// Deep merge for `request from NAME {…}`: objects merge key by key, other
// values replace, `null` removes the key.
void MergeJson(boost::json::value& base, const boost::json::value& patch);

}  // namespace firebreak::engine
