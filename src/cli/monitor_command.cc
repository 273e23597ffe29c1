// `firebreak monitor`: follow a holder's public log (src/oversight/monitor,
// docs/oversight.md), and `firebreak monitor receipt FILE`: check a receipt
// a member of the public hands over.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/encoding.h"
#include "base/files.h"
#include "cli/commands.h"
#include "cli/internal/keys.h"
#include "entry/entry.h"
#include "oversight/oversight.h"

namespace firebreak::cli {
namespace {

namespace fs = std::filesystem;

struct MonitorFlags {
  std::string log, state, vkey, ca_file, receipt;
  std::vector<std::string> witnesses, peers;
  size_t min_witnesses = 0;
  double interval = 0;  // 0: once
  bool quiet = false;
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "firebreak monitor: %s\n", message.c_str());
  return code;
}

Result<internal::VerifierKeys> LoadKeys(const MonitorFlags& f) {
  return internal::LoadVerifierKeys(f.vkey, f.witnesses, f.min_witnesses);
}

// Reads the log's files from an http(s):// URL prefix (the gateway serves
// them under /log/) or a local directory.
Result<ledger::FileReader> Fetcher(const std::string& log, const std::string& ca_file) {
  if (log.rfind("http://", 0) == 0 || log.rfind("https://", 0) == 0) return oversight::FetchFromUrl(log, ca_file);
  std::error_code ec;
  if (!fs::is_directory(log, ec)) {
    return tl::make_unexpected(InvalidArgument("--log: `" + log + "` is neither an http(s) URL nor a directory"));
  }
  return oversight::FetchFromDir(log);
}

std::atomic<bool> g_stop{false};

int RunFollow(const MonitorFlags& f) {
  auto keys = LoadKeys(f);
  if (!keys) return Fail(kExitUsage, keys.error().message());
  auto fetch = Fetcher(f.log, f.ca_file);
  if (!fetch) return Fail(kExitUsage, fetch.error().message());
  oversight::MonitorOptions o;
  o.state_dir = f.state;
  o.log_key = keys->log;
  o.witnesses = keys->witnesses;
  o.min_witnesses = f.min_witnesses;
  o.fetch = *fetch;
  for (const std::string& p : f.peers) {
    Result<std::string> note = tl::make_unexpected(NotFound(""));
    if (p.rfind("http://", 0) == 0 || p.rfind("https://", 0) == 0) {
      auto pf = Fetcher(p.substr(0, p.rfind('/') + 1), f.ca_file);
      if (!pf) return Fail(kExitUsage, "--peer " + p + ": " + pf.error().message());
      note = (*pf)(p.substr(p.rfind('/') + 1));
    } else {
      note = ReadFile(p);
    }
    if (!note) return Fail(kExitUsage, "--peer " + p + ": " + note.error().message());
    o.peer_checkpoints.push_back(*note);
  }
  bool tty = ::isatty(2) && !f.quiet;
  if (tty) {
    o.progress = [](uint64_t done, uint64_t total) {
      std::fprintf(stderr, "\rverifying new entries: %llu / %llu   ", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total));
      if (done == total) std::fprintf(stderr, "\n");
    };
  }
  if (f.interval > 0) {
    ::signal(SIGINT, [](int) { g_stop = true; });
    ::signal(SIGTERM, [](int) { g_stop = true; });
  }
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    auto run = oversight::RunMonitor(o);
    if (!run) {
      // The log unreachable, too few cosignatures: say so; keep following.
      std::fprintf(stderr, "firebreak monitor: %s\n", run.error().message().c_str());
      if (f.interval <= 0) return kExitUsage;
    } else {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (const std::string& n : run->notes) std::printf("note: %s\n", n.c_str());
      if (!run->evidence.empty()) {
        for (size_t i = 0; i < run->evidence.size(); ++i) {
          std::printf("EVIDENCE (%s): %s\n  written to %s\n", run->evidence[i].kind.c_str(),
                      run->evidence[i].sentence.c_str(), run->evidence_files[i].c_str());
        }
        std::fflush(stdout);
        return kExitFindings;
      }
      std::printf("ok: %s at size %llu (+%llu entries verified in %.2f s, %.0f entries/s); %zu witness "
                  "cosignature%s\n",
                  run->checkpoint.origin.c_str(), static_cast<unsigned long long>(run->checkpoint.size),
                  static_cast<unsigned long long>(run->new_entries), secs, secs > 0 ? run->new_entries / secs : 0.0,
                  run->cosignatures, run->cosignatures == 1 ? "" : "s");
      std::fflush(stdout);
    }
    if (f.interval <= 0) return kExitOk;
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(f.interval);
    while (!g_stop && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (g_stop) return kExitOk;
  }
}

int RunReceipt(const MonitorFlags& f) {
  auto keys = LoadKeys(f);
  if (!keys) return Fail(kExitUsage, keys.error().message());
  auto text = ReadFile(f.receipt);
  if (!text) return Fail(kExitUsage, text.error().message());
  std::string proof = *text;
  // The gateway's ?format=json wraps the tlog-proof.
  boost::system::error_code ec;
  boost::json::value j = boost::json::parse(*text, ec);
  if (!ec && j.is_object() && j.as_object().contains("tlog_proof") && j.at("tlog_proof").is_string()) {
    proof = std::string(j.at("tlog_proof").as_string());
  }
  auto receipt = ledger::ParseReceipt(proof);
  if (!receipt) return Fail(kExitFindings, "not a tlog-proof receipt: " + receipt.error().message());
  auto entry = Base64Decode(receipt->extra);
  if (!entry || entry->empty()) return Fail(kExitFindings, "the receipt does not carry its log entry");
  std::vector<const ledger::NoteVerifier*> witnesses;
  for (const auto& w : keys->witnesses) witnesses.push_back(&w);
  auto cp = ledger::VerifyReceipt(*receipt, *entry, keys->log, witnesses, f.min_witnesses);
  if (!cp) {
    std::printf("NOT VERIFIED: %s — this receipt does not prove the entry is in the log.\n",
                std::string(ledger::ReceiptErrorName(cp.error())).c_str());
    return kExitFindings;
  }
  std::printf("verified: entry %llu is in the log %s under its signed checkpoint of size %llu",
              static_cast<unsigned long long>(receipt->index), cp->origin.c_str(),
              static_cast<unsigned long long>(cp->size));
  if (f.min_witnesses) std::printf(", cosigned by at least %zu witnesses", f.min_witnesses);
  std::printf(".\n");
  if (auto e = entry::Parse(*entry)) {
    const auto& o = *e;
    auto str = [&](const char* k) { return o.contains(k) && o.at(k).is_string() ? std::string(o.at(k).as_string()) : std::string("-"); };
    std::printf("  the entry: %s %s, purpose %s, decision %s, at %lld (Unix time)\n", str("kind").c_str(),
                str("endpoint").c_str(), str("purpose").c_str(), str("decision").c_str(),
                o.contains("time") && o.at("time").is_int64() ? static_cast<long long>(o.at("time").as_int64()) : 0LL);
  }
  if (!f.state.empty()) {
    auto check = oversight::CheckAgainstMirror(f.state, keys->log, receipt->checkpoint);
    if (!check) return Fail(kExitUsage, "--state: " + check.error().message());
    if (check->has_value()) {
      auto path = oversight::WriteEvidence(f.state, **check);
      std::printf("EVIDENCE (split-view): %s\n  written to %s\n", (*check)->sentence.c_str(),
                  path ? path->c_str() : path.error().message().c_str());
      return kExitFindings;
    }
    std::printf("  consistent with the log this monitor follows.\n");
  }
  return kExitOk;
}

}  // namespace

void AddMonitorCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<MonitorFlags>();
  CLI::App* cmd = app.add_subcommand(
      "monitor",
      "Follow a holder's public decision log: verify every new checkpoint and entry, keep a verified mirror, and "
      "write evidence of a rollback, fork, rewritten history or split view");
  cmd->footer("Exit 0: the log behaved; 1: evidence written (see STATE/evidence/); 2: usage, I/O or network errors.\n"
              "See docs/oversight.md.");
  cmd->add_option("--log", f->log,
                  "The log's URL prefix (e.g. https://gateway.example:8443/log/) or a local copy of it");
  cmd->add_option("--state", f->state, "The monitor's state directory: a verified mirror of the log and evidence/ "
                                       "(required)");
  cmd->add_option("--vkey", f->vkey, "The log's verifier key, or a file holding it (required)");
  cmd->add_option("--ca-file", f->ca_file, "CA certificates (PEM) the log's HTTPS server chains to (default: system)");
  cmd->add_option("--witness", f->witnesses, "A witness's cosignature verifier key, or a file holding it (repeatable)");
  cmd->add_option("--min-witnesses", f->min_witnesses, "Cosignatures a checkpoint must carry to be accepted");
  cmd->add_option("--peer", f->peers,
                  "A signed checkpoint of the same log seen elsewhere (a file, or the URL of a witness's or another "
                  "monitor's copy): it must agree with the mirror (repeatable)");
  cmd->add_option("--interval", f->interval, "Keep following, checking every this many seconds (default: once)");
  cmd->add_flag("--quiet", f->quiet, "No progress on the terminal");
  CLI::App* receipt = cmd->add_subcommand(
      "receipt", "Check a receipt (C2SP tlog-proof) a requester or member of the public hands over");
  receipt->add_option("file", f->receipt, "The receipt file (text, or the gateway's ?format=json)")->required();
  receipt->add_option("--vkey", f->vkey, "The log's verifier key, or a file holding it")->required();
  receipt->add_option("--witness", f->witnesses, "A witness's cosignature verifier key (repeatable)");
  receipt->add_option("--min-witnesses", f->min_witnesses, "Cosignatures the receipt's checkpoint must carry");
  receipt->add_option("--state", f->state,
                      "A monitor's state directory: the receipt's checkpoint must also agree with its mirror");
  receipt->footer("Exit 0: verified; 1: it does not verify, or contradicts the monitor's mirror; 2: usage errors.");
  cmd->callback([f, exit_code, receipt] {
    if (receipt->parsed()) return;
    if (f->log.empty() || f->state.empty() || f->vkey.empty()) {
      std::fprintf(stderr, "firebreak monitor: --log, --state and --vkey are required (see --help)\n");
      *exit_code = kExitUsage;
      return;
    }
    *exit_code = RunFollow(*f);
  });
  receipt->callback([f, exit_code] { *exit_code = RunReceipt(*f); });
}

}  // namespace firebreak::cli
