// `firebreak audit`: what an inspector runs on a copy of a holder's decision
// log (src/oversight/audit, docs/oversight.md).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/files.h"
#include "cli/commands.h"
#include "cli/internal/keys.h"
#include "oversight/oversight.h"

namespace firebreak::cli {
namespace {

struct AuditFlags {
  std::string dir, vkey, packs, json_out;
  std::vector<std::string> audit_keys, baselines, witnesses;
  size_t min_witnesses = 0;
  double gap_hours = 24;
  size_t max_findings = 20;
  bool quiet = false;
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "firebreak audit: %s\n", message.c_str());
  return code;
}

int Run(const AuditFlags& f) {
  oversight::AuditOptions o;
  o.log_dir = f.dir;
  o.packs_dir = f.packs;
  o.baseline_packs = f.baselines;
  o.min_witnesses = f.min_witnesses;
  o.gap = std::chrono::seconds(int64_t(f.gap_hours * 3600));
  auto verifiers = internal::LoadVerifierKeys(f.vkey, f.witnesses, f.min_witnesses);
  if (!verifiers) return Fail(kExitUsage, verifiers.error().message());
  o.log_key = verifiers->log;
  o.witnesses = verifiers->witnesses;
  std::vector<entry::AuditKey> keys;
  for (const std::string& path : f.audit_keys) {
    auto key = entry::ReadAuditKey(path);
    if (!key) return Fail(kExitUsage, "--audit-key " + path + ": " + key.error().message());
    keys.push_back(std::move(*key));
  }
  o.keys = entry::Keyring(std::move(keys));
  bool tty = ::isatty(2) && !f.quiet;
  if (tty) {
    o.progress = [](std::string_view stage, uint64_t done, uint64_t total) {
      std::fprintf(stderr, "\r%s: %llu / %llu entries   ", std::string(stage).c_str(),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
      if (done == total) std::fprintf(stderr, "\n");
    };
  }
  auto report = oversight::RunAudit(o);
  if (!report) return Fail(kExitUsage, report.error().message());
  if (!f.json_out.empty()) {
    std::string text = boost::json::serialize(report->ToJson()) + "\n";
    if (f.json_out == "-") {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else if (Status st = WriteFileAtomically(f.json_out, text); !st) {
      return Fail(kExitUsage, st.error().message());
    }
  }
  if (f.json_out != "-") std::fputs(report->Summary(f.max_findings).c_str(), stdout);
  return report->findings.empty() ? kExitOk : kExitFindings;
}

}  // namespace

void AddAuditCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<AuditFlags>();
  CLI::App* cmd = app.add_subcommand(
      "audit",
      "Audit a copy of a decision log: re-verify it, open every sealed part with the audit key, replay every "
      "decision with the published pack whose hash it names, and check it against the guarantees");
  cmd->footer(
      "Exit 0: no findings; 1: findings (each with its entry index and a sentence); 2: usage or I/O errors.\n"
      "See docs/oversight.md.");
  cmd->add_option("--dir", f->dir, "The log directory (checkpoint and tile/), e.g. a mirror of the public log")
      ->required();
  cmd->add_option("--vkey", f->vkey, "The log's verifier key, or a file holding it")->required();
  cmd->add_option("--audit-key", f->audit_keys,
                  "A file holding an audit key the holder shared (repeat for keys used before a rotation)")
      ->required();
  cmd->add_option("--packs", f->packs, "A directory of the holder's published packs, searched by policy hash")
      ->required();
  cmd->add_option("--baseline", f->baselines,
                  "A pack whose guarantees every decision must meet whatever pack decided it, e.g. the national "
                  "firewall layer the holder signed up to (repeatable)");
  cmd->add_option("--witness", f->witnesses, "A witness's cosignature verifier key, or a file holding it (repeatable)");
  cmd->add_option("--min-witnesses", f->min_witnesses, "Cosignatures the checkpoint must carry (default 0)");
  cmd->add_option("--json", f->json_out, "Write the full report as JSON to this file (- for stdout)");
  cmd->add_option("--gap-hours", f->gap_hours, "List pauses longer than this between entries (default 24)");
  cmd->add_option("--max-findings", f->max_findings, "Findings printed in full in the summary (default 20)");
  cmd->add_flag("--quiet", f->quiet, "No progress on the terminal");
  cmd->callback([f, exit_code] { *exit_code = Run(*f); });
}

}  // namespace firebreak::cli
