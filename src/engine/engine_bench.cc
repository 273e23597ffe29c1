// Decision engine benchmarks (DESIGN §7). Each benchmark times every single
// decision with the steady clock and reports the median and 99th percentile
// as counters (p50_ns, p99_ns; they include ~20 ns of clock overhead), and
// decisions per second on one core as items_per_second.
//
//   build/src/engine/engine_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <vector>

#include <boost/json/serialize.hpp>

#include "engine/engine.h"
#include "engine/testing/generator.h"
#include "policy/policy.h"

namespace firebreak::engine {
namespace {

const std::string kSourceDir = FIREBREAK_SOURCE_DIR;
const std::string kUk = kSourceDir + "/policies/uk";

std::shared_ptr<const Engine> Load(const std::vector<std::string>& dirs) {
  auto loaded = policy::LoadPolicySet(dirs);
  if (!loaded || !loaded->ok()) {
    std::fprintf(stderr, "cannot load %s\n", dirs[0].c_str());
    std::abort();
  }
  return Engine::Compile(loaded->set);
}

// Requests: the pack's example requests plus random ones over its schema.
std::vector<Request> Requests(const Engine& e, int random) {
  std::vector<Request> out;
  for (const auto& f : std::filesystem::directory_iterator(kUk + "/examples")) {
    if (f.path().extension() != ".json") continue;
    std::ifstream in(f.path());
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto r = ParseRequestText(text, e.schema());
    if (r) out.push_back(*r);
  }
  testing::Generator gen(e.schema(), 42);
  for (int i = 0; i < random; ++i) out.push_back(gen.RandomRequest(3));
  return out;
}

void Percentiles(benchmark::State& state, std::vector<int64_t>& ns) {
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  state.counters["p50_ns"] = double(ns[ns.size() / 2]);
  state.counters["p99_ns"] = double(ns[ns.size() * 99 / 100]);
  state.counters["max_ns"] = double(ns.back());
}

template <class F>
void Timed(benchmark::State& state, size_t n, F&& one) {
  std::vector<int64_t> ns;
  ns.reserve(1 << 20);
  size_t i = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    one(i++ % n);
    auto t1 = std::chrono::steady_clock::now();
    if (ns.size() < (1u << 22)) ns.push_back((t1 - t0).count());
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  Percentiles(state, ns);
}

void BM_DecideInMemory(benchmark::State& state, const std::string& pack) {
  auto e = Load({kUk + "/" + pack});
  auto reqs = Requests(*e, 2000);
  Timed(state, reqs.size(), [&](size_t i) { benchmark::DoNotOptimize(e->Decide(reqs[i])); });
}
BENCHMARK_CAPTURE(BM_DecideInMemory, strict_firewall, std::string("strict-firewall"));
BENCHMARK_CAPTURE(BM_DecideInMemory, npcc_2020, std::string("npcc-2020"));
BENCHMARK_CAPTURE(BM_DecideInMemory, migrant_victims_protocol, std::string("migrant-victims-protocol"));

// From raw JSON: parse, check against the schema, decide, serialise the decision.
void BM_DecideFromJson(benchmark::State& state) {
  auto e = Load({kUk + "/strict-firewall"});
  auto reqs = Requests(*e, 2000);
  std::vector<std::string> texts;
  for (const Request& r : reqs) texts.push_back(boost::json::serialize(RequestToJson(r, e->schema())));
  Timed(state, texts.size(), [&](size_t i) {
    auto r = ParseRequestText(texts[i], e->schema());
    benchmark::DoNotOptimize(boost::json::serialize(e->ToJson(e->Decide(*r), *r)));
  });
}
BENCHMARK(BM_DecideFromJson);

std::string GeneratedAgreementsPack(int n) {
  auto schema_engine = Load({kUk + "/schema"});
  testing::Generator gen(schema_engine->schema(), uint64_t(n));
  std::string dir = std::filesystem::temp_directory_path().string() + "/fb_bench_agreements";
  return testing::WritePackSplit(dir, "agreements" + std::to_string(n), kUk + "/schema",
                                 gen.Agreements(n), 8, 1);
}

// The strict firewall plus n generated agreements (each for random requester
// types, purposes and an extra condition).
void BM_DecideWithAgreements(benchmark::State& state) {
  int n = int(state.range(0));
  auto e = Load({kUk + "/strict-firewall", GeneratedAgreementsPack(n)});
  auto reqs = Requests(*e, 4000);
  Timed(state, reqs.size(), [&](size_t i) { benchmark::DoNotOptimize(e->Decide(reqs[i])); });
  state.counters["rules"] = double(e->policy_set().rules.size());
}
BENCHMARK(BM_DecideWithAgreements)->Arg(1000)->Arg(10000);

// Load (read + parse), check and compile the strict firewall plus n agreements.
void BM_LoadCheckCompile(benchmark::State& state) {
  int n = int(state.range(0));
  std::string dir = GeneratedAgreementsPack(n);
  for (auto _ : state) {
    auto loaded = policy::LoadPolicySet({kUk + "/strict-firewall", dir});
    benchmark::DoNotOptimize(Engine::Compile(loaded->set));
  }
}
BENCHMARK(BM_LoadCheckCompile)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace firebreak::engine

BENCHMARK_MAIN();
