// Verifier benchmarks (DESIGN §7; docs/benchmarks.md "Verifier"):
//   BM_ProveShippedGuarantees  every guarantee of the UK packs; counters give
//                              the median / p90 / max time per guarantee
//   BM_RefutePlantedFaults     guarantees of weakened packs, refuted with a
//                              minimised, engine-replayed counterexample
//   BM_UkPlus1000Agreements    strict-firewall + 1,000 generated agreements:
//                              load, check and verify every guarantee
//   BM_DiffTwoPacks            diff strict-firewall migrant-victims-protocol
//   BM_DifferentialLongRun     FIREBREAK_DIFF_REQUESTS (default 1,000,000)
//                              requests per shipped pack, engine against the
//                              encoding; aborts on a disagreement
//                              (FIREBREAK_DIFF_PACK=name runs one pack)
//
//   build/src/verify/verify_bench --benchmark_filter=Prove
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "verify/testing/differential.h"
#include "verify/testing/test_util.h"
#include "verify/verify.h"

namespace firebreak::verify {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<const policy::PolicySet> MustLoad(const std::vector<std::string>& dirs) {
  std::string why;
  auto set = testing::LoadSet(dirs, &why);
  if (!set) {
    std::fprintf(stderr, "cannot load %s: %s\n", dirs[0].c_str(), why.c_str());
    std::abort();
  }
  return set;
}

void SetPercentiles(benchmark::State& state, std::vector<double> ms) {
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  state.counters["median_ms"] = ms[ms.size() / 2];
  state.counters["p90_ms"] = ms[ms.size() * 9 / 10];
  state.counters["max_ms"] = ms.back();
  state.counters["guarantees"] = double(ms.size());
}

void BM_ProveShippedGuarantees(benchmark::State& state) {
  std::vector<std::shared_ptr<const policy::PolicySet>> sets;
  for (const std::string& p : testing::ShippedPacks()) sets.push_back(MustLoad({p}));
  std::vector<double> per_guarantee;
  for (auto _ : state) {
    for (const auto& set : sets) {
      auto report = VerifyGuarantees(set);
      if (!report || !report->all_proved()) state.SkipWithError("a shipped guarantee is not proved");
      if (!report) return;
      // Per guarantee: its solving, plus its share of encoding the set.
      double share = report->guarantees.empty() ? 0 : report->encode_millis / double(report->guarantees.size());
      for (const GuaranteeResult& g : report->guarantees) per_guarantee.push_back(g.millis + share);
    }
  }
  SetPercentiles(state, per_guarantee);
}
BENCHMARK(BM_ProveShippedGuarantees)->Unit(benchmark::kMillisecond)->Iterations(20);

// Copies policies/uk and weakens it (the planted faults of the tests).
std::string WeakenedCopy(const std::string& dir) {
  fs::copy(testing::UkDir(), fs::path(dir) / "uk", fs::copy_options::recursive);
  auto edit = [&](const std::string& file, const std::string& from, const std::string& to) {
    fs::path p = fs::path(dir) / "uk" / file;
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    size_t at = text.find(from);
    if (at == std::string::npos) {
      std::fprintf(stderr, "%s: `%s` not found\n", file.c_str(), from.c_str());
      std::abort();
    }
    text.replace(at, from.size(), to);
    std::ofstream(p, std::ios::trunc) << text;
  };
  edit("schema/sets.fbp", "set protected_roles: role = [victim, ", "set protected_roles: role = [");
  edit("schema/sets.fbp", "set active_statuses: case_status = [reported, under-investigation, charged, prosecution]",
       "set active_statuses: case_status = [reported, under-investigation, prosecution]");
  edit("npcc-2020-core/rules.fbp", "  data [address, contact]", "  data [address, contact, nationality]");
  return (fs::path(dir) / "uk").string();
}

void BM_RefutePlantedFaults(benchmark::State& state) {
  testing::ScratchDir dir("bench-refute");
  std::string uk = WeakenedCopy(dir.path());
  std::vector<std::shared_ptr<const policy::PolicySet>> sets;
  for (const char* p : {"strict-firewall", "migrant-victims-protocol", "npcc-2020"}) {
    sets.push_back(MustLoad({uk + "/" + p}));
  }
  std::vector<double> refuted;
  for (auto _ : state) {
    for (const auto& set : sets) {
      auto report = VerifyGuarantees(set);
      if (!report) {
        state.SkipWithError(report.error().ToString().c_str());
        return;
      }
      double share = report->encode_millis / double(report->guarantees.size());
      for (const GuaranteeResult& g : report->guarantees) {
        if (g.outcome == Outcome::kRefuted) refuted.push_back(g.millis + share);
      }
    }
  }
  if (refuted.empty()) state.SkipWithError("nothing was refuted");
  SetPercentiles(state, refuted);
}
BENCHMARK(BM_RefutePlantedFaults)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_UkPlus1000Agreements(benchmark::State& state) {
  testing::ScratchDir dir("bench-agreements");
  auto schema = MustLoad({testing::UkDir() + "/schema"});
  testing::Generator gen(*schema->schema, 42);
  std::string body;
  for (int i = 0; i < 1000; ++i) body += gen.Agreement(fmt::format("gen_agreement_{}", i));
  std::string pack = testing::WritePack(dir.path(), "generated-agreements", testing::UkDir() + "/schema", body,
                                        "agreement");
  size_t guarantees = 0, refuted = 0, slots = 0;
  for (auto _ : state) {
    auto loaded = policy::LoadPolicySet({testing::UkDir() + "/strict-firewall", pack});
    if (!loaded || !loaded->ok()) {
      state.SkipWithError(loaded ? loaded->Render().c_str() : loaded.error().message().c_str());
      return;
    }
    auto report = VerifyGuarantees(loaded->set);
    if (!report) {
      state.SkipWithError(report.error().ToString().c_str());
      return;
    }
    guarantees = report->guarantees.size();
    refuted = 0;
    for (const GuaranteeResult& g : report->guarantees) {
      if (g.outcome == Outcome::kUnknown) state.SkipWithError("a guarantee is unknown");
      refuted += g.outcome == Outcome::kRefuted;
    }
    slots = 0;
    for (const policy::Rule& r : loaded->set->rules) slots += r.agreement != nullptr;
  }
  state.counters["guarantees"] = double(guarantees);
  state.counters["refuted"] = double(refuted);
  state.counters["agreements"] = double(slots);
}
BENCHMARK(BM_UkPlus1000Agreements)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_DiffTwoPacks(benchmark::State& state) {
  auto a = MustLoad({testing::UkDir() + "/strict-firewall"});
  auto b = MustLoad({testing::UkDir() + "/migrant-victims-protocol"});
  DiffOptions o;
  o.label_a = "strict-firewall";
  o.label_b = "migrant-victims-protocol";
  o.max_witnesses = 3;
  size_t witnesses = 0;
  for (auto _ : state) {
    auto report = DiffSets(a, b, o);
    if (!report) {
      state.SkipWithError(report.error().ToString().c_str());
      return;
    }
    witnesses = 0;
    for (const auto& k : report->kinds) witnesses += k.witnesses.size();
  }
  state.counters["witnesses"] = double(witnesses);
}
BENCHMARK(BM_DiffTwoPacks)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_DifferentialLongRun(benchmark::State& state) {
  size_t n = 1000000;
  if (const char* e = std::getenv("FIREBREAK_DIFF_REQUESTS")) n = std::strtoull(e, nullptr, 10);
  size_t total = 0;
  for (auto _ : state) {
    std::vector<std::string> packs = testing::ShippedPacks();
    const char* only = std::getenv("FIREBREAK_DIFF_PACK");  // run only packs whose path contains this
    for (size_t p = 0; p < packs.size(); ++p) {
      if (only && packs[p].find(only) == std::string::npos) continue;
      testing::Coverage cov;
      std::string failure = testing::RunDifferential(MustLoad({packs[p]}), 5000 + p, n, &cov);
      if (!failure.empty()) {
        std::fprintf(stderr, "%s: %s\n", packs[p].c_str(), failure.c_str());
        state.SkipWithError("the engine and the encoding disagree");
        return;
      }
      if (cov.violations) state.SkipWithError("a proved guarantee was violated");
      total += n;
    }
  }
  state.counters["requests"] = double(total);
  state.counters["requests_per_s"] = benchmark::Counter(double(total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DifferentialLongRun)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace firebreak::verify

BENCHMARK_MAIN();
