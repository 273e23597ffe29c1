// Benchmarks of the decision log (docs/benchmarks.md, "Decision log").
//   flock /tmp/firebreak-build.lock build/src/ledger/ledger_bench
// FIREBREAK_BENCH_DIR picks the filesystem (default: the temp directory; a
// full run of BM_ConcurrentAddLatency leaves up to ~4 GB there until it exits);
// FIREBREAK_BENCH_PROOF_SIZE the size of the proof-generation log (10^7).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "ledger/ledger.h"

namespace firebreak::ledger {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The scratch directory, removed at exit.
struct Scratch {
  fs::path path;
  Scratch() {
    const char* env = std::getenv("FIREBREAK_BENCH_DIR");
    fs::path base = env ? fs::path(env) : fs::temp_directory_path();
    path = base / ("firebreak-ledger-bench-" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Scratch() { fs::remove_all(path); }
};

const fs::path& BenchRoot() {
  static Scratch scratch;
  return scratch.path;
}

std::string Entry256(uint64_t i) {
  std::string e = "{\"decision\":\"permit\",\"i\":" + std::to_string(i) + ",\"pad\":\"";
  e.resize(254, 'p');
  return e + "\"}";
}

struct Log {
  std::string dir;
  std::unique_ptr<PosixStorage> storage;
  std::optional<NoteSigner> signer;
  std::unique_ptr<Appender> appender;
};

std::unique_ptr<Log> NewLog(const std::string& name, std::chrono::milliseconds interval) {
  // A new directory for every run, all removed at exit: deleting the last
  // repetition's log (~10,000 files) just before the next one made every file
  // the next one created slow on an ext4 volume without a journal (the inode
  // allocator skips recently deleted inodes one by one), which then measured
  // the filesystem, not the log (docs/benchmarks.md, "Publication keeping up").
  static int runs = 0;
  auto log = std::make_unique<Log>();
  log->dir = (BenchRoot() / (name + "-" + std::to_string(runs++))).string();
  if (!PosixStorage::Create(log->dir)) std::abort();
  log->storage = std::move(*PosixStorage::Open(log->dir));
  log->signer.emplace(*NoteSigner::Generate("firebreak.example/bench"));
  if (!Appender::InitLog(*log->storage, *log->signer)) std::abort();
  log->appender = std::move(*Appender::Open(*log->storage, *log->signer, {interval}));
  return log;
}

// Durable appends/s: one producer pipelines Enqueue and waits for durability
// every 16,384 entries; the sequencer commits whatever queued meanwhile.
void BM_DurableAppendPipelined(benchmark::State& state) {
  auto log = NewLog("pipelined", std::chrono::milliseconds(1000));
  uint64_t i = 0, last = 0;
  std::string e = Entry256(0);
  for (auto _ : state) {
    last = *log->appender->Enqueue(e);
    if (++i % 16384 == 0) (void)log->appender->WaitSequenced(last);
  }
  (void)log->appender->WaitSequenced(last);
  state.SetItemsProcessed(static_cast<int64_t>(i));
  state.SetBytesProcessed(static_cast<int64_t>(i * e.size()));
  (void)log->appender->Close();
}
BENCHMARK(BM_DurableAppendPipelined)->UseRealTime()->MinTime(3.0);

// Many concurrent callers each blocking in Add() until durable, as gateway
// threads do, with the default publish interval; one more thread samples
// add -> published every 10 ms. Reports appends/s and latency percentiles.
void BM_ConcurrentAddLatency(benchmark::State& state) {
  const int callers = static_cast<int>(state.range(0));
  const auto duration = std::chrono::seconds(6);
  for (auto _ : state) {
    auto log = NewLog("latency" + std::to_string(callers), AppenderOptions{}.publish_interval);
    std::vector<std::vector<double>> seq_us(callers);
    std::vector<double> pub_us;
    std::atomic<uint64_t> total{0};
    auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < callers; ++t) {
      threads.emplace_back([&, t] {
        std::string e = Entry256(static_cast<uint64_t>(t));
        uint64_t n = 0;
        while (Clock::now() - start < duration) {
          auto t0 = Clock::now();
          if (!log->appender->Add(e)) std::abort();
          seq_us[t].push_back(
              std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
          ++n;
        }
        total += n;
      });
    }
    threads.emplace_back([&] {
      std::string e = Entry256(999999);
      while (Clock::now() - start < duration) {
        auto t0 = Clock::now();
        auto index = log->appender->Add(e);
        if (!index || !log->appender->WaitPublished(*index)) std::abort();
        pub_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    for (auto& th : threads) th.join();
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    (void)log->appender->Close();
    std::vector<double> seq;
    for (auto& v : seq_us) seq.insert(seq.end(), v.begin(), v.end());
    auto pct = [](std::vector<double>& v, double p) {
      if (v.empty()) return 0.0;
      size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
      std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
      return v[k];
    };
    state.counters["appends_per_s"] = static_cast<double>(total.load()) / secs;
    state.counters["seq_p50_us"] = pct(seq, 0.50);
    state.counters["seq_p99_us"] = pct(seq, 0.99);
    state.counters["pub_p50_ms"] = pct(pub_us, 0.50) / 1000;
    state.counters["pub_p99_ms"] = pct(pub_us, 0.99) / 1000;
  }
}
BENCHMARK(BM_ConcurrentAddLatency)->Arg(16)->Arg(64)->Arg(256)->Iterations(1)->UseRealTime();

// A log laid out directly by the Tiler (no WAL): `n` entries of `entry_size`.
struct StaticLog {
  std::unique_ptr<PosixStorage> storage;
  uint64_t size;
  Hash root;
  std::string checkpoint;
  std::optional<NoteSigner> signer;
};

StaticLog* BuildStaticLog(const std::string& name, uint64_t n, size_t entry_size) {
  auto* log = new StaticLog;
  std::string dir = (BenchRoot() / name).string();
  if (!PosixStorage::Create(dir)) std::abort();
  log->storage = PosixStorage::OpenReadOnly(dir);
  log->signer.emplace(*NoteSigner::Generate("firebreak.example/bench"));
  Tiler tiler;
  Sha256Hasher hasher;
  std::string e(entry_size, 'e');
  for (uint64_t i = 0; i < n; ++i) {
    std::string num = std::to_string(i);
    std::copy(num.begin(), num.end(), e.begin());
    tiler.Append(hasher, e, HashLeaf(hasher, e));
    if (i % (1 << 20) == 0 || i == n - 1) {
      auto files = tiler.Flush();
      if (!log->storage->WriteFiles(files)) std::abort();
    }
  }
  log->size = n;
  log->root = tiler.Root(hasher);
  Checkpoint cp{log->signer->name(), n, log->root, {}};
  const NoteSigner* signers[] = {&*log->signer};
  log->checkpoint = *SignNote(cp.Text(), signers);
  if (!log->storage->WriteCheckpoint(log->checkpoint)) std::abort();
  return log;
}

uint64_t ProofLogSize() {
  const char* env = std::getenv("FIREBREAK_BENCH_PROOF_SIZE");
  return env ? std::strtoull(env, nullptr, 10) : 10'000'000;
}

StaticLog& ProofLog() {
  static StaticLog* log = BuildStaticLog("proofs", ProofLogSize(), 16);
  return *log;
}

// Inclusion proof from the tiles on disk, a fresh tile cache for each proof.
void BM_InclusionProof(benchmark::State& state) {
  StaticLog& log = ProofLog();
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    TileNodeReader nodes([&](const std::string& p) { return log.storage->ReadFile(p); }, log.size);
    auto proof = InclusionProof(rng() % log.size, log.size, nodes.AsNodeReader());
    if (!proof) std::abort();
    benchmark::DoNotOptimize(proof->data());
  }
  state.counters["tree_size"] = static_cast<double>(log.size);
}
BENCHMARK(BM_InclusionProof)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProof(benchmark::State& state) {
  StaticLog& log = ProofLog();
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    TileNodeReader nodes([&](const std::string& p) { return log.storage->ReadFile(p); }, log.size);
    auto proof = ConsistencyProof(1 + rng() % (log.size - 1), log.size, nodes.AsNodeReader());
    if (!proof) std::abort();
    benchmark::DoNotOptimize(proof->data());
  }
  state.counters["tree_size"] = static_cast<double>(log.size);
}
BENCHMARK(BM_ConsistencyProof)->Unit(benchmark::kMicrosecond);

// Full re-verification (bundles -> tiles -> signed root) of 10^6 entries of
// 256 bytes.
void BM_VerifyLog(benchmark::State& state) {
  static StaticLog* log = BuildStaticLog("verify", 1'000'000, 256);
  NoteVerifier key = *NoteVerifier::FromKeyText(log->signer->VerifierKeyText());
  for (auto _ : state) {
    auto report = VerifyLog([&](const std::string& p) { return log->storage->ReadFile(p); }, key,
                            "", nullptr);
    if (!report) std::abort();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(log->size));
}
BENCHMARK(BM_VerifyLog)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);

}  // namespace
}  // namespace firebreak::ledger

BENCHMARK_MAIN();
