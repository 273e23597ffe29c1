// `firebreak serve --config FILE`: runs the gateway until SIGINT or SIGTERM;
// SIGHUP reloads the policy.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "base/files.h"
#include "cli/commands.h"
#include "gateway/gateway.h"

namespace firebreak::cli {
namespace {

struct ServeOptions {
  std::string config;
  std::string port_file;
  bool no_access_log = false;
};

int Run(const ServeOptions& o) {
  auto config = gateway::LoadConfig(o.config);
  if (!config) {
    fmt::print(stderr, "firebreak serve: {}\n", config.error().ToString());
    return kExitUsage;
  }
  config->handle_signals = true;
  if (o.no_access_log) config->access_log = false;
  auto gw = gateway::Gateway::Start(*config);
  if (!gw) {
    fmt::print(stderr, "firebreak serve: {}\n", gw.error().ToString());
    return kExitUsage;
  }
  uint16_t port = (*gw)->port();
  if (!o.port_file.empty()) {
    if (auto st = WriteFileAtomically(o.port_file, std::to_string(port) + "\n"); !st) {
      fmt::print(stderr, "firebreak serve: {}\n", st.error().ToString());
      return kExitUsage;
    }
  }
  boost::json::object listening{{"event", "listening"},
                                 {"address", config->host},
                                 {"port", port},
                                 {"max_connections", (*gw)->max_connections()},
                                 {"descriptor_limit", (*gw)->descriptor_limit()},
                                 {"bearer_tokens", config->bearer_tokens}};
  if ((*gw)->metrics_port()) listening["metrics_port"] = (*gw)->metrics_port();
  std::string line = boost::json::serialize(listening);
  fmt::print(stderr, "{}\n", line);
  (*gw)->Wait();
  Status st = (*gw)->Stop();
  if (!st) {
    fmt::print(stderr, "firebreak serve: closing the log: {}\n", st.error().ToString());
    return kExitUsage;
  }
  fmt::print(stderr, "{}\n", boost::json::serialize(boost::json::object{{"event", "stopped"}}));
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the gateway (HTTPS, mutual TLS) in front of the store");
  cmd->add_option("--config", opts->config, "Gateway configuration (JSON), e.g. from `firebreak demo`")
      ->required();
  cmd->add_option("--port-file", opts->port_file, "Write the port listened on to this file");
  cmd->add_flag("--no-access-log", opts->no_access_log, "Do not write one JSON line per request");
  cmd->callback([opts, exit_code] { *exit_code = Run(*opts); });
}

}  // namespace firebreak::cli
