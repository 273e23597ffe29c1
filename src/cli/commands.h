// Front door of `cli`: the `firebreak` command. Each subcommand lives in its
// own `*_command.cc` and registers itself here; `main.cc` only wires them up.
//
// Exit codes shared by every subcommand: 0 success, 1 the command ran and
// found problems (diagnostics, failed tests, a refuted guarantee), 2 usage or
// I/O errors.
//
// Thread model: single-threaded start-up; each command owns its state.
#pragma once

#include <CLI/CLI.hpp>

namespace firebreak::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitUsage = 2;

// Each adds one subcommand to `app`. The subcommand's callback stores its exit
// code in `*exit_code`.
void AddCheckCommand(CLI::App& app, int* exit_code);
void AddFmtCommand(CLI::App& app, int* exit_code);
void AddEvalCommand(CLI::App& app, int* exit_code);
void AddTestCommand(CLI::App& app, int* exit_code);
void AddLogCommand(CLI::App& app, int* exit_code);
void AddDemoCommand(CLI::App& app, int* exit_code);
void AddServeCommand(CLI::App& app, int* exit_code);
void AddVerifyCommand(CLI::App& app, int* exit_code);
void AddDiffCommand(CLI::App& app, int* exit_code);
void AddLintCommand(CLI::App& app, int* exit_code);
void AddAuditCommand(CLI::App& app, int* exit_code);
void AddWitnessCommand(CLI::App& app, int* exit_code);
void AddMonitorCommand(CLI::App& app, int* exit_code);
void AddReportCommand(CLI::App& app, int* exit_code);
void AddFleetCommand(CLI::App& app, int* exit_code);
void AddTrackerCommand(CLI::App& app, int* exit_code);

}  // namespace firebreak::cli
