// Witness throughput and latency on loopback (docs/benchmarks.md,
// "## Witness"): the witness runs in this process behind the real HTTP
// server (plain HTTP on 127.0.0.1, state in SQLite on disk with
// synchronous=FULL); `--clients` threads, each with its own keep-alive
// connection, submit add-checkpoint requests that each advance one of
// `--logs` logs by one leaf (a real consistency proof, a new signed
// checkpoint, a durable compare-and-swap), as fast as the answers come.
// Prints requests/s and the latency percentiles, from sending to the whole
// answer read, durable update included.
//
//   witness_bench [--logs 64] [--clients 32] [--seconds 10] [--dir DIR]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/files.h"
#include "http/client.h"
#include "ledger/witness_protocol.h"
#include "oversight/witness/testing/tree.h"
#include "oversight/witness/witness.h"

namespace fs = std::filesystem;
using namespace firebreak;
using namespace firebreak::oversight::witness;

int main(int argc, char** argv) {
  int logs = 64, clients = 32, seconds = 10;
  std::string dir = "";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "witness_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--logs") logs = std::atoi(next().c_str());
    else if (a == "--clients") clients = std::atoi(next().c_str());
    else if (a == "--seconds") seconds = std::atoi(next().c_str());
    else if (a == "--dir") dir = next();
    else if (a == "--help" || a == "-h") {
      std::printf("witness_bench [--logs N] [--clients N] [--seconds N] [--dir DIR]\n"
                  "Submits add-checkpoint requests to an in-process witness over loopback HTTP;\n"
                  "every request advances one log by one leaf (durable state update).\n"
                  "DIR (default: a fresh folder under the current directory) holds the SQLite state.\n");
      return 0;
    } else {
      std::fprintf(stderr, "witness_bench: unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (logs < 1 || clients < 1 || seconds < 1 || logs < clients) {
    std::fprintf(stderr, "witness_bench: --logs >= --clients >= 1 and --seconds >= 1\n");
    return 2;
  }
  if (dir.empty()) dir = "witness_bench." + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);

  // Keys, config, the witness.
  auto wsigner = *ledger::CosignatureSigner::Generate("witness.example/bench");
  (void)WriteFileAtomically(dir + "/w.key", wsigner.PrivateKeyText() + "\n", 0600);
  std::vector<ledger::NoteSigner> signers;
  WitnessConfig config;
  config.key_file = dir + "/w.key";
  config.state = dir + "/state.db";
  config.listen = "127.0.0.1:0";
  config.rate_per_log = 1e6;
  config.burst_per_log = 1e6;
  for (int i = 0; i < logs; ++i) {
    signers.push_back(*ledger::NoteSigner::Generate("bench.example/log/" + std::to_string(i)));
    config.logs.push_back({signers.back().name(),
                           {*ledger::NoteVerifier::FromKeyText(signers.back().VerifierKeyText())}});
  }
  auto server = Server::Start(config);
  if (!server) {
    std::fprintf(stderr, "witness_bench: %s\n", server.error().message().c_str());
    return 2;
  }
  std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/add-checkpoint";

  // Precomputed request chains: log i goes 0 → 1 → 2 → … one leaf at a time.
  // Enough steps for 20,000 requests/s for the whole run, spread over the logs.
  const uint64_t steps = std::max<uint64_t>(64, uint64_t(20000) * seconds / logs + 1);
  std::fprintf(stderr, "witness_bench: preparing %d logs x %llu requests...\n", logs,
               (unsigned long long)steps);
  testing::Tree tree("bench");
  tree.Grow(steps + 1);
  std::vector<std::vector<ledger::Hash>> proofs(steps + 1);
  std::vector<std::string> texts(steps + 1);
  for (uint64_t k = 0; k <= steps; ++k) {
    if (k > 0) proofs[k] = tree.Proof(k - 1, k);  // from k-1 to k
  }
  std::vector<std::vector<std::string>> bodies(logs);
  {
    std::vector<std::thread> prep;
    for (int t = 0; t < 2; ++t) {
      prep.emplace_back([&, t] {
        testing::Tree local("bench");
        local.Grow(steps + 1);
        for (int i = t; i < logs; i += 2) {
          bodies[i].reserve(steps);
          for (uint64_t k = 1; k <= steps; ++k) {
            bodies[i].push_back(ledger::FormatAddCheckpoint({k - 1, proofs[k], local.Checkpoint(signers[i], k)}));
          }
        }
      });
    }
    for (auto& t : prep) t.join();
  }

  // Clients: client c owns the logs l with l % clients == c, so that each
  // log's requests go one after another (each from the size the last set).
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::atomic<uint64_t>> next_step(logs);
  for (auto& n : next_step) n = 0;
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<uint64_t> errors{0}, non200{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = *http::Client::Create({});
      std::vector<int> mine;
      for (int l = 0; l < logs; ++l) {
        if (l % clients == c) mine.push_back(l);
      }
      latencies[c].reserve(size_t(20000) * seconds / clients + 16);
      while (!go) std::this_thread::yield();
      size_t turn = 0;
      while (!stop) {
        int l = mine[turn++ % mine.size()];
        uint64_t k = next_step[l]++;
        if (k >= steps) break;
        auto t0 = std::chrono::steady_clock::now();
        auto r = client->Post(url, bodies[l][k], "text/plain");
        auto t1 = std::chrono::steady_clock::now();
        if (!r) {
          ++errors;
          continue;
        }
        if (r->status != 200) {
          if (++non200 < 5) std::fprintf(stderr, "witness_bench: %d %s", r->status, r->body.c_str());
          continue;
        }
        latencies[c].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    });
  }
  auto start = std::chrono::steady_clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  (*server)->Stop();

  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, size_t(p * all.size()))]; };
  std::printf("witness add-checkpoint: %d logs, %d clients, %.1f s: %zu cosigned (%.0f/s), "
              "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; %llu non-200, %llu errors\n",
              logs, clients, elapsed, all.size(), double(all.size()) / elapsed, pct(0.5) / 1000,
              pct(0.9) / 1000, pct(0.99) / 1000, all.empty() ? 0.0 : all.back() / 1000,
              (unsigned long long)non200.load(), (unsigned long long)errors.load());
  fs::remove_all(dir);
  return 0;
}
