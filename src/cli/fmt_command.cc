// `firebreak fmt [--check] PATH…`: format policy files canonically.
#include <cstdio>

#include <fmt/format.h>

#include "base/files.h"
#include "cli/commands.h"
#include "policy/policy.h"

namespace firebreak::cli {
namespace {

struct FmtOptions {
  std::vector<std::string> paths;
  bool check = false;
};

int Run(const FmtOptions& o) {
  std::vector<std::string> files;
  for (const std::string& p : o.paths) {
    auto found = policy::FindPolicyFiles(p);
    if (!found) {
      fmt::print(stderr, "firebreak fmt: {}\n", found.error().message());
      return kExitUsage;
    }
    files.insert(files.end(), found->begin(), found->end());
  }
  int rc = kExitOk;
  size_t changed = 0;
  for (const std::string& f : files) {
    auto text = ReadFile(f);
    if (!text) {
      fmt::print(stderr, "firebreak fmt: {}\n", text.error().message());
      return kExitUsage;
    }
    policy::SourceManager sources;
    policy::DiagnosticSink sink;
    policy::FileId id = sources.Add(f, *text);
    policy::Module m = policy::Parse(sources, id, sink);
    if (sink.has_errors()) {
      fmt::print(stderr, "{}", policy::RenderDiagnostics(sources, sink));
      rc = kExitFindings;
      continue;
    }
    std::string formatted = policy::FormatModule(m);
    if (formatted == *text) continue;
    ++changed;
    if (o.check) {
      fmt::print("{}: not formatted (run `firebreak fmt {}`)\n", f, f);
      rc = kExitFindings;
      continue;
    }
    auto written = WriteFileAtomically(f, formatted);
    if (!written) {
      fmt::print(stderr, "firebreak fmt: {}\n", written.error().message());
      return kExitUsage;
    }
    fmt::print("formatted {}\n", f);
  }
  if (o.check && rc == kExitOk) fmt::print("{} files formatted correctly\n", files.size());
  return rc;
}

}  // namespace

void AddFmtCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<FmtOptions>();
  CLI::App* cmd = app.add_subcommand(
      "fmt",
      "Format policy files (.fbp) in place, canonically. Formatting is idempotent and keeps "
      "comments; it never changes the policy hash.\n"
      "Exit 0: done (or, with --check, all formatted); 1: syntax errors or, with --check, files "
      "that need formatting; 2: usage or I/O error.");
  cmd->add_option("paths", opts->paths, "Policy files or directories")->required();
  cmd->add_flag("--check", opts->check, "Change nothing; list the files that are not formatted");
  cmd->callback([opts, exit_code] { *exit_code = Run(*opts); });
}

}  // namespace firebreak::cli
