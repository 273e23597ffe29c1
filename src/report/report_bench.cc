// The monthly report's speed on a real log (docs/benchmarks.md, "Transparency
// reports"): reads FORCE/log with FORCE/keys, counts the month of the log's
// entries ROUNDS times (parse, open every sealed part, cap, count), then adds
// the noise to every cell once, and prints entries/s per round and the median.
//
//   report_bench FORCE_DIR PACK_DIR [ROUNDS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "base/files.h"
#include "report/report.h"

using namespace firebreak;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: report_bench FORCE_DIR PACK_DIR [ROUNDS]\n");
    return 2;
  }
  std::string force = argv[1];
  int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  auto vkey_text = ReadFile(force + "/keys/log.vkey");
  auto audit = entry::ReadAuditKey(force + "/keys/audit.key");
  if (!vkey_text || !audit) {
    std::fprintf(stderr, "cannot read the force's keys\n");
    return 2;
  }
  std::string vt = *vkey_text;
  while (!vt.empty() && (vt.back() == '\n' || vt.back() == ' ')) vt.pop_back();
  auto vkey = ledger::NoteVerifier::FromKeyText(vt);
  if (!vkey) {
    std::fprintf(stderr, "bad verifier key: %s\n", vkey.error().message().c_str());
    return 2;
  }
  report::CountOptions o;
  o.log_dir = force + "/log";
  o.log_key = *vkey;
  o.keys = entry::Keyring({*audit});
  o.packs = {argv[2]};
  o.period = report::Period::kMonth;
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  o.from = *report::ParsePeriodStart(report::PeriodName(now, report::Period::kMonth), report::Period::kMonth);
  o.to = report::PeriodEnd(o.from, report::Period::kMonth);
  o.cap = 4;
  std::vector<double> rates;
  report::Tally last;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    auto t = report::CountLog(o);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!t) {
      std::fprintf(stderr, "%s\n", t.error().ToString().c_str());
      return 1;
    }
    rates.push_back(double(t->entries_read) / s);
    std::printf("round %d: %llu entries (%llu decisions in the month, %llu over the cap, %llu unreadable) in %.2f s = "
                "%.0f entries/s\n",
                r + 1, (unsigned long long)t->entries_read, (unsigned long long)t->decisions_in_range,
                (unsigned long long)t->over_cap, (unsigned long long)t->unreadable, s, rates.back());
    last = std::move(*t);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("median: %.0f entries/s\n", rates[rates.size() / 2]);
  report::CsprngSource rng;
  auto scale = report::ScaleFor(4, *report::Rational::Parse("1/4"));
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t n : last.cells) (void)(int64_t(n) + *report::SampleDiscreteLaplace(scale->t, scale->s, rng));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("noise for %zu cells (scale %llu/%llu): %.3f s\n", last.cells.size(), (unsigned long long)scale->t,
              (unsigned long long)scale->s, s);
  return 0;
}
