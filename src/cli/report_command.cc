// `firebreak report`: the holder's transparency report (src/report,
// docs/reports.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/files.h"
#include "cli/commands.h"
#include "cli/internal/keys.h"
#include "report/report.h"

namespace firebreak::cli {
namespace {

struct ReportFlags {
  std::string dir, vkey, period = "month", from, to, epsilon, ledger, budget, format = "html", out;
  std::vector<std::string> audit_keys, packs;
  uint64_t cap = 1;
  bool quiet = false;
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "firebreak report: %s\n", message.c_str());
  return code;
}

int Run(const ReportFlags& f) {
  report::ReleaseOptions o;
  report::CountOptions& c = o.count;
  c.log_dir = f.dir;
  c.packs = f.packs;
  c.cap = f.cap;
  if (f.period != "month" && f.period != "year") return Fail(kExitUsage, "--period: `" + f.period + "` is not month or year");
  if (f.format != "html" && f.format != "json" && f.format != "csv") {
    return Fail(kExitUsage, "--format: `" + f.format + "` is not html, json or csv");
  }
  c.period = f.period == "year" ? report::Period::kYear : report::Period::kMonth;
  auto from = report::ParsePeriodStart(f.from, c.period);
  if (!from) return Fail(kExitUsage, "--from: " + from.error().message());
  auto to = report::ParsePeriodStart(f.to, c.period);
  if (!to) return Fail(kExitUsage, "--to: " + to.error().message());
  if (*to < *from) return Fail(kExitUsage, "--to: `" + f.to + "` is before --from `" + f.from + "`");
  c.from = *from;
  c.to = report::PeriodEnd(*to, c.period);
  auto eps = report::Rational::Parse(f.epsilon);
  if (!eps) return Fail(kExitUsage, "--epsilon: " + eps.error().message());
  o.epsilon = *eps;
  if (!f.budget.empty()) {
    auto b = report::Rational::Parse(f.budget);
    if (!b) return Fail(kExitUsage, "--yearly-budget: " + b.error().message());
    o.yearly_budget = *b;
  }
  o.ledger_dir = f.ledger;
  auto verifiers = internal::LoadVerifierKeys(f.vkey, {}, 0);
  if (!verifiers) return Fail(kExitUsage, verifiers.error().message());
  c.log_key = verifiers->log;
  std::vector<entry::AuditKey> keys;
  for (const std::string& path : f.audit_keys) {
    auto key = entry::ReadAuditKey(path);
    if (!key) return Fail(kExitUsage, "--audit-key " + path + ": " + key.error().message());
    keys.push_back(std::move(*key));
  }
  c.keys = entry::Keyring(std::move(keys));
  if (::isatty(2) && !f.quiet) {
    c.progress = [](uint64_t done, uint64_t total) {
      std::fprintf(stderr, "\rreading: %llu / %llu entries   ", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total));
      if (done == total) std::fprintf(stderr, "\n");
    };
  }
  o.now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  report::CsprngSource rng;
  auto r = report::MakeRelease(o, rng);
  if (!r) {
    return Fail(r.error().code() == ErrorCode::kFailedPrecondition ? kExitFindings : kExitUsage, r.error().message());
  }
  std::string text = f.format == "csv"    ? report::ToCsv(*r)
                     : f.format == "json" ? boost::json::serialize(r->ToJson()) + "\n"
                                          : report::ToHtml(*r);
  if (f.out.empty() || f.out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else if (Status st = WriteFileAtomically(f.out, text); !st) {
    return Fail(kExitUsage, st.error().message());
  }
  std::fprintf(stderr, "%s\n",
               fmt::format("release {} of {} ({} to {}, ε = {}, cap {} per person): {}; output {}", r->id.substr(0, 16),
                           r->holder, r->from, r->to, r->epsilon.ToString(), r->cap,
                           r->stored ? "returned as stored (no new noise, no budget spent)" : "made and charged to the ledger",
                           r->output_hash)
                   .c_str());
  if (r->unreadable > 0) {
    std::fprintf(stderr, "warning: %llu entries could not be read or opened and are not counted\n",
                 static_cast<unsigned long long>(r->unreadable));
  }
  return kExitOk;
}

}  // namespace

void AddReportCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<ReportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Make a transparency report from the decision log: counts by period × requester type × purpose × decision × "
      "the person's role with differential privacy, and the statements the proofs make true");
  cmd->footer(
      "Each release is charged to the holder's yearly privacy budget in --ledger; asking for the same release again\n"
      "returns the stored numbers. Exit 0: written; 1: refused (over budget, period not over); 2: usage or I/O\n"
      "errors. See docs/reports.md.\n\n"
      "  firebreak report --dir log --vkey log.vkey --audit-key keys/audit.key --packs policies/uk/strict-firewall \\\n"
      "    --from 2026-01 --to 2026-06 --epsilon 1/4 --cap 4 --ledger state/reports --yearly-budget 1 --out r.html");
  cmd->add_option("--dir", f->dir, "The log directory (checkpoint and tile/)")->required();
  cmd->add_option("--vkey", f->vkey, "The log's verifier key, or a file holding it")->required();
  cmd->add_option("--audit-key", f->audit_keys, "A file holding an audit key (repeat for keys used before a rotation)")
      ->required();
  cmd->add_option("--packs", f->packs,
                  "The pack directories in force (as the gateway loads them); their schema gives the table's "
                  "vocabularies and their proved guarantees the exact statements (repeatable)")
      ->required();
  cmd->add_option("--period", f->period, "month (default) or year");
  cmd->add_option("--from", f->from, "The first period: YYYY-MM (or YYYY with --period year)")->required();
  cmd->add_option("--to", f->to, "The last period, included")->required();
  cmd->add_option("--epsilon", f->epsilon, "The privacy loss ε of this release, a rational a/b (e.g. 1/4)")
      ->required();
  cmd->add_option("--cap", f->cap, "The most decisions one person contributes to this release (default 1)");
  cmd->add_option("--ledger", f->ledger, "The budget ledger directory (ledger.json and releases/)")->required();
  cmd->add_option("--yearly-budget", f->budget,
                  "The holder's ε per calendar year, a rational; required when the ledger is new, fixed after");
  cmd->add_option("--format", f->format, "html (default), json or csv");
  cmd->add_option("--out", f->out, "Write here (default: stdout)");
  cmd->add_flag("--quiet", f->quiet, "No progress on the terminal");
  cmd->callback([f, exit_code] { *exit_code = Run(*f); });
}

}  // namespace firebreak::cli
