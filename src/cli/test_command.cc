// `firebreak test PATH…`: run data-driven policy tests (.fbt files).
#include <cstdio>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "engine/scenario.h"

namespace firebreak::cli {
namespace {

struct TestOptions {
  std::vector<std::string> paths;
  bool verbose = false;
};

int Run(const TestOptions& o) {
  std::vector<std::string> files;
  for (const std::string& p : o.paths) {
    auto found = engine::FindScenarioFiles(p);
    if (!found) {
      fmt::print(stderr, "firebreak test: {}\n", found.error().message());
      return kExitUsage;
    }
    files.insert(files.end(), found->begin(), found->end());
  }
  if (files.empty()) {
    fmt::print(stderr, "firebreak test: no .fbt files found\n");
    return kExitUsage;
  }
  engine::ScenarioRunner runner;
  size_t passed = 0, failed = 0;
  for (const std::string& f : files) {
    auto scenarios = engine::ParseScenarioFile(f);
    if (!scenarios) {
      fmt::print(stderr, "firebreak test: {}\n", scenarios.error().message());
      return kExitUsage;
    }
    for (const engine::Scenario& s : *scenarios) {
      engine::ScenarioResult r = runner.Run(s);
      if (r.passed) {
        ++passed;
        if (o.verbose) fmt::print("PASS {}:{}: {}\n", s.file, s.line, s.name);
      } else {
        ++failed;
        fmt::print("FAIL {}:{}: {}\n{}", s.file, s.line, s.name, r.message);
        if (!r.decision.is_null()) fmt::print("  decision: {}\n", boost::json::serialize(r.decision));
      }
    }
  }
  fmt::print("{} passed, {} failed\n", passed, failed);
  return failed ? kExitFindings : kExitOk;
}

}  // namespace

void AddTestCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<TestOptions>();
  CLI::App* cmd = app.add_subcommand(
      "test",
      "Run policy tests: .fbt files of requests and expected decisions (docs/language.md). Each "
      "PATH is a file or a directory searched recursively.\n"
      "Exit 0: all passed; 1: some failed; 2: usage, I/O or malformed test files.");
  cmd->add_option("paths", opts->paths, "Test files or directories")->required();
  cmd->add_flag("-v,--verbose", opts->verbose, "Print every test, not only failures");
  cmd->callback([opts, exit_code] { *exit_code = Run(*opts); });
}

}  // namespace firebreak::cli
