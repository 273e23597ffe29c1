// `firebreak fleet`: the national view over many holders' public logs
// (src/oversight/fleet, docs/reports.md).
#include <cstdio>
#include <string>

#include <boost/json.hpp>

#include "base/files.h"
#include "cli/commands.h"
#include "oversight/fleet/fleet.h"

namespace firebreak::cli {
namespace {

struct FleetFlags {
  std::string file, state = "fleet-state", json_out;
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "firebreak fleet: %s\n", message.c_str());
  return code;
}

int Run(const FleetFlags& f) {
  auto text = ReadFile(f.file);
  if (!text) return Fail(kExitUsage, text.error().message());
  auto fleet = oversight::ParseFleetFile(*text);
  if (!fleet) return Fail(kExitUsage, f.file + ": " + fleet.error().message());
  oversight::FleetOptions o;
  o.fleet = *fleet;
  o.state_dir = f.state;
  auto views = oversight::RunFleet(o);
  if (!views) return Fail(kExitUsage, views.error().message());
  bool flagged = false;
  for (const auto& v : *views) flagged = flagged || !v.stands_out.empty();
  if (!f.json_out.empty()) {
    boost::json::array a;
    for (const auto& v : *views) a.push_back(v.ToJson());
    std::string out = boost::json::serialize(boost::json::object{{"holders", std::move(a)}}) + "\n";
    if (f.json_out == "-") {
      std::fwrite(out.data(), 1, out.size(), stdout);
    } else if (Status st = WriteFileAtomically(f.json_out, out); !st) {
      return Fail(kExitUsage, st.error().message());
    }
  }
  if (f.json_out != "-") std::fputs(oversight::FleetSummary(*views).c_str(), stdout);
  return flagged ? kExitFindings : kExitOk;
}

}  // namespace

void AddFleetCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<FleetFlags>();
  CLI::App* cmd = app.add_subcommand(
      "fleet",
      "The national view: follow many holders' public logs and show, for each, the policy in force over time and "
      "whether it pins the national firewall layer; holders that stop pinning or whose log stops verifying stand out");
  cmd->footer(
      "FILE is JSON: {\"national_pins\": [rule, ...] (optional), \"holders\": [{\"name\", \"log\" (URL prefix or local\n"
      "copy), \"vkey\", \"ca_file\" (optional)}]}. Each holder's log is mirrored and re-verified in STATE/<name>.\n"
      "Exit 0: every holder verifies and pins; 1: some stand out; 2: usage or I/O errors. See docs/reports.md.");
  cmd->add_option("FILE", f->file, "The fleet file (JSON)")->required();
  cmd->add_option("--state", f->state, "Directory of the verified mirrors, one per holder (default fleet-state)");
  cmd->add_option("--json", f->json_out, "Write the full view as JSON to this file (- for stdout)");
  cmd->callback([f, exit_code] { *exit_code = Run(*f); });
}

}  // namespace firebreak::cli
