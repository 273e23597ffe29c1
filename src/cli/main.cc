// The `firebreak` command line.
#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Firebreak: a data firewall for public services.\n"
      "Policies decide every request for personal data; guarantees are proved;\n"
      "every decision goes to a tamper-evident public log.",
      "firebreak"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "firebreak 0.1.0");
  int exit_code = firebreak::cli::kExitOk;
  firebreak::cli::AddCheckCommand(app, &exit_code);
  firebreak::cli::AddFmtCommand(app, &exit_code);
  firebreak::cli::AddEvalCommand(app, &exit_code);
  firebreak::cli::AddTestCommand(app, &exit_code);
  firebreak::cli::AddLogCommand(app, &exit_code);
  firebreak::cli::AddDemoCommand(app, &exit_code);
  firebreak::cli::AddServeCommand(app, &exit_code);
  firebreak::cli::AddVerifyCommand(app, &exit_code);
  firebreak::cli::AddDiffCommand(app, &exit_code);
  firebreak::cli::AddLintCommand(app, &exit_code);
  firebreak::cli::AddAuditCommand(app, &exit_code);
  firebreak::cli::AddTrackerCommand(app, &exit_code);
  firebreak::cli::AddWitnessCommand(app, &exit_code);
  firebreak::cli::AddMonitorCommand(app, &exit_code);
  firebreak::cli::AddReportCommand(app, &exit_code);
  firebreak::cli::AddFleetCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : firebreak::cli::kExitUsage;
  }
  return exit_code;
}
