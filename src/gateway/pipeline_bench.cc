// What one decision costs on the gateway's I/O thread, stage by stage
// (docs/benchmarks.md, "## Gateway"): the caller's body read, the engine's
// request, the subject resolved (from the store, and from the fact cache),
// the per-record evaluation, the sealed log entry, its canonical text and the
// answer. A 1,000-subject demo force on SQLite, the strict-firewall pack, the
// requests of scripts/bench_gateway.sh.
//
//   pipeline_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>

#include <boost/json.hpp>
#include <unistd.h>

#include "demo/demo.h"
#include "engine/engine.h"
#include "entry/entry.h"
#include "gateway/internal/fact_cache.h"
#include "gateway/internal/pipeline.h"
#include "gateway/internal/wire.h"
#include "policy/policy.h"
#include "store/store.h"

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace firebreak;
using namespace firebreak::gateway::internal;

namespace {

// The decisions request of scripts/bench_gateway.sh (the force's own status
// check about DEMO-R01) and its disclosure (an enforcement team's request
// about DEMO-R16).
constexpr const char* kDecision =
    R"({"purpose":"immigration-status-check","action":"referral","categories":["identity","nationality"],)"
    R"("legal_basis":"iaa-1999-s20","user_role":"police-officer","subject":{"reference":"DEMO-R01"}})";
constexpr const char* kDisclosure =
    R"({"purpose":"immigration-enforcement","action":"disclose","categories":["address"],)"
    R"("legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"reference":"DEMO-R16"}})";

struct Fixture {
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::shared_ptr<const engine::Engine> engine;
  FieldMap fields;
  store::Organisation police, enforcement;
  entry::AuditKey audit{"bench", std::string(32, 'k')};
  std::string pseudonym_key = std::string(32, 'p');

  Fixture() {
    dir = (fs::temp_directory_path() / ("fb-pipeline-bench-" + std::to_string(getpid()))).string();
    fs::remove_all(dir);
    demo::DemoOptions o;
    o.dir = dir;
    o.subjects = 1000;
    o.listen = "127.0.0.1:0";
    if (auto s = demo::CreateDemoForce(o); !s) Die("demo", s.error().ToString());
    auto opened = store::OpenSqliteStore(dir + "/store.db");
    if (!opened) Die("store", opened.error().ToString());
    store = std::move(*opened);
    auto loaded = policy::LoadPolicySet({std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/strict-firewall"});
    if (!loaded || !loaded->ok()) Die("policy", "strict-firewall does not load");
    engine = engine::Engine::Compile(loaded->set);
    auto map = store->FieldCategories();
    if (!map) Die("field map", map.error().ToString());
    for (auto& [k, v] : *map) fields[k] = v;
    police = Org("example-constabulary");
    enforcement = Org("ie-ice-south");
  }
  ~Fixture() { fs::remove_all(dir); }

  store::Organisation Org(const std::string& id) {
    auto org = store->GetOrganisation(id);
    if (!org || !*org) Die("organisation", id);
    return **org;
  }

  [[noreturn]] static void Die(const char* what, const std::string& why) {
    std::fprintf(stderr, "pipeline_bench: %s: %s\n", what, why.c_str());
    std::exit(1);
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

CallerRequest Caller(const char* body, const store::Organisation& org) {
  auto c = ParseCaller(body, org);
  if (!c) Fixture::Die("caller", c.error().message);
  return *c;
}

// One request decided up to the stage a benchmark times: the caller's
// request, the engine's, the subject from the store, the merged decision.
struct Decided {
  CallerRequest caller;
  engine::Request base;
  Resolution resolution;
  Merged merged;
};
Decided Decide(const char* body, const store::Organisation& org) {
  Decided d;
  d.caller = Caller(body, org);
  auto base = engine::ReadRequest(d.caller.base, F().engine->schema());
  auto resolution = Resolve(*F().store, d.caller);
  if (!base || !resolution) Fixture::Die("decide", "the benchmark's request does not resolve");
  d.base = std::move(*base);
  d.resolution = std::move(*resolution);
  auto merged = Evaluate(*F().engine, d.base, d.resolution, F().fields);
  if (!merged) Fixture::Die("decide", merged.error().ToString());
  d.merged = std::move(*merged);
  return d;
}

void BM_ParseCaller(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ParseCaller(kDecision, F().police));
}
BENCHMARK(BM_ParseCaller);

void BM_EngineRequest(benchmark::State& state) {
  CallerRequest c = Caller(kDecision, F().police);
  for (auto _ : state) benchmark::DoNotOptimize(engine::ReadRequest(c.base, F().engine->schema()));
}
BENCHMARK(BM_EngineRequest);

void BM_ResolveFromStore(benchmark::State& state) {
  CallerRequest c = Caller(kDecision, F().police);
  for (auto _ : state) benchmark::DoNotOptimize(Resolve(*F().store, c));
}
BENCHMARK(BM_ResolveFromStore);

void BM_ResolveCached(benchmark::State& state) {
  CallerRequest c = Caller(kDecision, F().police);
  FactCache cache(*F().store);
  for (auto _ : state) {
    auto stamp = cache.Now();
    benchmark::DoNotOptimize(cache.Resolve(*stamp, c));
  }
}
BENCHMARK(BM_ResolveCached);

void BM_Evaluate(benchmark::State& state) {
  Decided d = Decide(kDecision, F().police);
  for (auto _ : state) benchmark::DoNotOptimize(Evaluate(*F().engine, d.base, d.resolution, F().fields));
}
BENCHMARK(BM_Evaluate);

void BM_DecisionEntry(benchmark::State& state) {
  Decided d = Decide(kDecision, F().police);
  std::string pseudonym;
  for (auto _ : state) {
    benchmark::DoNotOptimize(DecisionEntry(*F().engine, d.caller, d.resolution, d.merged, false,
                                           "0123456789abcdef0123456789abcdef", F().pseudonym_key, F().audit,
                                           &pseudonym));
  }
}
BENCHMARK(BM_DecisionEntry);

void BM_CanonicalEntry(benchmark::State& state) {
  Decided d = Decide(kDecision, F().police);
  std::string pseudonym;
  auto e = DecisionEntry(*F().engine, d.caller, d.resolution, d.merged, false, "0123456789abcdef0123456789abcdef",
                         F().pseudonym_key, F().audit, &pseudonym);
  // The entry is written as canonical text: this is what checking it costs.
  auto tree = json::parse(*e);
  for (auto _ : state) {
    std::string text = entry::CanonicalJson(tree);
    benchmark::DoNotOptimize(text);
  }
  state.counters["entry_bytes"] = double(e->size());
}
BENCHMARK(BM_CanonicalEntry);

void BM_RenderDecision(benchmark::State& state) {
  Decided d = Decide(kDecision, F().police);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string body =
        RenderDecision(*F().engine, d.resolution, d.merged, "123456-0123456789abcdef0123456789abcdef", 123456);
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.counters["answer_bytes"] = double(bytes);
}
BENCHMARK(BM_RenderDecision);

void BM_RenderDisclosure(benchmark::State& state) {
  Decided d = Decide(kDisclosure, F().enforcement);
  if (!d.merged.permit) Fixture::Die("disclosure", "the benchmark's disclosure is not permitted");
  size_t bytes = 0;
  for (auto _ : state) {
    std::string body =
        RenderDisclosure(*F().engine, d.merged, F().fields, "123456-0123456789abcdef0123456789abcdef").second;
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.counters["answer_bytes"] = double(bytes);
}
BENCHMARK(BM_RenderDisclosure);

// Every stage of one request, the subject from the fact cache, as the
// gateway's I/O thread runs them for a decision (`decision`) or a
// disclosure; not the log's write, not TLS.
void Whole(benchmark::State& state, const char* body, const store::Organisation& org, bool outward) {
  FactCache cache(*F().store);
  std::string pseudonym;
  for (auto _ : state) {
    auto c = ParseCaller(body, org);
    auto base = engine::ReadRequest(c->base, F().engine->schema());
    auto stamp = cache.Now();
    auto resolution = cache.Resolve(*stamp, *c);
    auto merged = Evaluate(*F().engine, *base, **resolution, F().fields);
    auto e = DecisionEntry(*F().engine, *c, **resolution, *merged, outward, "0123456789abcdef0123456789abcdef",
                           F().pseudonym_key, F().audit, &pseudonym);
    std::string text = std::move(*e);
    std::string answer =
        outward ? RenderDisclosure(*F().engine, *merged, F().fields, "1-x").second
                : RenderDecision(*F().engine, **resolution, *merged, "1-x", 1);
    benchmark::DoNotOptimize(text);
    benchmark::DoNotOptimize(answer);
  }
}
void BM_WholeDecision(benchmark::State& state) { Whole(state, kDecision, F().police, false); }
void BM_WholeDisclosure(benchmark::State& state) { Whole(state, kDisclosure, F().enforcement, true); }
BENCHMARK(BM_WholeDecision);
BENCHMARK(BM_WholeDisclosure);

}  // namespace

BENCHMARK_MAIN();
