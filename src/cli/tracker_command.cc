// `firebreak tracker reindex --config FILE`: rebuilds the data-subject
// tracker's index (pseudonym → log indices) from the published decision
// log, opening each entry with the configuration's audit keys
// (docs/tracker.md). Idempotent; the gateway may keep running.
#include <fmt/format.h>

#include "cli/commands.h"
#include "gateway/gateway.h"

namespace firebreak::cli {
namespace {

struct TrackerOptions {
  std::string config;
  bool quiet = false;
};

int Reindex(const TrackerOptions& o) {
  auto config = gateway::LoadConfig(o.config);
  if (!config) {
    fmt::print(stderr, "firebreak tracker reindex: {}\n", config.error().ToString());
    return kExitUsage;
  }
  auto progress = [&](uint64_t done, uint64_t total) {
    if (!o.quiet) fmt::print(stderr, "read {} of {} log entries\n", done, total);
  };
  auto n = gateway::RebuildTrackerIndex(*config, progress);
  if (!n) {
    fmt::print(stderr, "firebreak tracker reindex: {}\n", n.error().ToString());
    return kExitUsage;
  }
  fmt::print("indexed {} log entries about a person\n", *n);
  return kExitOk;
}

}  // namespace

void AddTrackerCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("tracker", "The data-subject tracker's maintenance (docs/tracker.md)");
  cmd->require_subcommand(1);
  auto opts = std::make_shared<TrackerOptions>();
  CLI::App* reindex = cmd->add_subcommand(
      "reindex", "Rebuild the tracker's index (pseudonym -> log entries) from the published log with the audit key");
  reindex->add_option("--config", opts->config, "Gateway configuration (JSON): its store, log and audit keys")
      ->required();
  reindex->add_flag("--quiet", opts->quiet, "No progress lines");
  reindex->callback([opts, exit_code] { *exit_code = Reindex(*opts); });
}

}  // namespace firebreak::cli
