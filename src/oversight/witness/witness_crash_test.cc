// kill -9 of the witness under concurrent submissions never yields two
// inconsistent cosigned checkpoints, and a restarted witness never holds a
// size below one it cosigned.
//
// The witness (`firebreak witness serve`) watches several logs; for each
// log, half the submitters follow an honest tree and half a fork of it that
// diverges after a few leaves, all at once, while the test SIGKILLs and
// restarts the witness at random instants. Every 200 is recorded; at the
// end, for every log, every cosigned checkpoint past the fork point belongs
// to one branch, every cosignature verifies, and the state the restarted
// witness holds is at least the largest size it cosigned, on that branch.
// FIREBREAK_WITNESS_CRASH_SECONDS sets the run's length (default 8).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "base/files.h"
#include "http/client.h"
#include "ledger/witness_protocol.h"
#include "oversight/witness/testing/tree.h"

namespace firebreak::oversight::witness {
namespace {

namespace fs = std::filesystem;
using testing::Tree;

const std::string kBinary = std::string(FIREBREAK_BINARY_DIR) + "/src/cli/firebreak";
constexpr int kLogs = 6;
constexpr uint64_t kMaxSize = 400;

struct Process {
  pid_t pid = -1;
  uint16_t port = 0;
};

// Starts the witness and waits for the port it prints.
Process Start(const fs::path& dir, int generation) {
  fs::path err = dir / ("stderr." + std::to_string(generation));
  Process p;
  p.pid = fork();
  if (p.pid == 0) {
    FILE* f = std::freopen(err.c_str(), "w", stderr);
    (void)f;
    execl(kBinary.c_str(), kBinary.c_str(), "witness", "serve", "--config",
          (dir / "witness.json").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::regex port_re("\\(port ([0-9]+)\\)");
  for (int i = 0; i < 2000 && p.port == 0; ++i) {
    std::ifstream in(err);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::smatch m;
    if (std::regex_search(text, m, port_re)) p.port = uint16_t(std::stoi(m[1]));
    if (p.port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return p;
}

struct Cosigned {
  uint64_t size;
  ledger::Hash root;
  int branch;
};

TEST(WitnessCrash, KillNineNeverYieldsTwoInconsistentCosignedCheckpoints) {
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  fs::path dir = fs::temp_directory_path() / ("witness_crash_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto wsigner = *ledger::CosignatureSigner::Generate("witness.example/crash");
  ASSERT_TRUE(WriteFileAtomically((dir / "w.key").string(), wsigner.PrivateKeyText() + "\n", 0600));
  std::vector<ledger::NoteSigner> logs;
  std::string logs_json;
  for (int i = 0; i < kLogs; ++i) {
    logs.push_back(*ledger::NoteSigner::Generate("firebreak.example/crash/" + std::to_string(i)));
    logs_json += std::string(i ? "," : "") + R"({"origin": ")" + logs.back().name() + R"(", "keys": [")" +
                 logs.back().VerifierKeyText() + R"("]})";
  }
  ASSERT_TRUE(WriteFileAtomically((dir / "witness.json").string(),
                                  R"({"key": "w.key", "state": "state.db", "listen": "127.0.0.1:0",
                                      "rate_per_log": 1000000, "burst_per_log": 1000000, "logs": [)" +
                                      logs_json + "]}"));
  // Per log: the honest tree (branch 0) and a fork (branch 1) after `prefix[i]` leaves.
  std::vector<uint64_t> prefix;
  std::vector<std::array<std::unique_ptr<Tree>, 2>> trees(kLogs);
  for (int i = 0; i < kLogs; ++i) {
    prefix.push_back(3 + uint64_t(i) * 5);
    trees[i][0] = std::make_unique<Tree>("honest" + std::to_string(i));
    trees[i][0]->Grow(kMaxSize);
    trees[i][1] = std::make_unique<Tree>(trees[i][0]->Fork(prefix[i], "fork" + std::to_string(i)));
    trees[i][1]->Grow(kMaxSize);
  }
  // Precomputed bodies would be large; build them on the fly under a lock
  // (Tree is not thread-safe).
  std::mutex tree_mu;

  const char* env = std::getenv("FIREBREAK_WITNESS_CRASH_SECONDS");
  const auto run_for = std::chrono::seconds(env ? std::atoi(env) : 8);
  std::atomic<uint16_t> port{0};
  std::atomic<bool> done{false};
  std::mutex results_mu;
  std::map<int, std::vector<Cosigned>> results;  // by log
  std::atomic<int> ok_count{0}, kills{0}, bad_signatures{0};
  ledger::NoteVerifier wv = wsigner.Verifier();

  Process proc = Start(dir, 0);
  ASSERT_GT(proc.port, 0) << "the witness did not start";
  port = proc.port;

  std::vector<std::thread> submitters;
  for (int t = 0; t < 8; ++t) {
    submitters.emplace_back([&, t] {
      std::mt19937_64 rng(uint64_t(t) * 7919 + 1);
      http::Client::Options co;
      co.connect_timeout = std::chrono::milliseconds(500);
      co.exchange_timeout = std::chrono::milliseconds(2000);
      auto client = *http::Client::Create(co);
      int branch = t % 2;
      std::vector<uint64_t> old(kLogs, 0);
      while (!done) {
        int log = int(rng() % kLogs);
        uint64_t target = std::min<uint64_t>(kMaxSize, old[log] + 1 + rng() % 6);
        if (rng() % 8 == 0) target = old[log];  // an unchanged checkpoint, re-cosigned
        std::string body, checkpoint;
        {
          std::lock_guard lock(tree_mu);
          Tree& tree = *trees[log][branch];
          uint64_t from = old[log];
          checkpoint = tree.Checkpoint(logs[log], target);
          body = ledger::FormatAddCheckpoint({from, tree.Proof(from, target), checkpoint});
        }
        auto r = client->Post("http://127.0.0.1:" + std::to_string(port.load()) + "/add-checkpoint", body,
                              "text/plain");
        if (!r) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          continue;
        }
        if (r->status == 200) {
          auto sigs = ledger::ParseCosignatures(r->body);
          auto note = ledger::ParseNote(checkpoint);
          if (!sigs || sigs->size() != 1 || !wv.Verify(note->text, (*sigs)[0].signature)) ++bad_signatures;
          ledger::Hash root;
          {
            std::lock_guard lock(tree_mu);
            root = trees[log][branch]->Root(target);
          }
          std::lock_guard lock(results_mu);
          results[log].push_back({target, root, branch});
          old[log] = target;
          ++ok_count;
        } else if (r->status == 409) {
          auto size = ledger::ParseTlogSize(r->body);
          if (size) old[log] = std::min(*size, kMaxSize);
        } else if (r->status == 422) {
          // The witness holds the other branch: keep pushing ours anyway.
          if (rng() % 4 == 0) old[log] = 0;
        }
      }
    });
  }

  // Kill and restart at random instants.
  std::mt19937_64 rng(42);
  auto deadline = std::chrono::steady_clock::now() + run_for;
  int generation = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 200));
    kill(proc.pid, SIGKILL);
    waitpid(proc.pid, nullptr, 0);
    ++kills;
    proc = Start(dir, ++generation);
    ASSERT_GT(proc.port, 0) << "the witness did not restart";
    port = proc.port;
  }
  done = true;
  for (auto& t : submitters) t.join();

  std::printf("%d kills, %d cosignatures\n", kills.load(), ok_count.load());
  EXPECT_GT(ok_count.load(), 100);
  EXPECT_EQ(bad_signatures.load(), 0);
  // The restarted witness's state: ask with old 0 (409 tells the size).
  auto client = *http::Client::Create({});
  for (int log = 0; log < kLogs; ++log) {
    const auto& cs = results[log];
    int branch = -1;
    uint64_t max_size = 0;
    for (const Cosigned& c : cs) {
      max_size = std::max(max_size, c.size);
      if (c.size <= prefix[log]) continue;  // the shared prefix: both branches agree
      if (branch < 0) branch = c.branch;
      EXPECT_EQ(c.branch, branch) << "log " << log << ": cosigned size " << c.size
                                  << " on both branches: two inconsistent cosigned checkpoints";
    }
    auto r = client->Get("http://127.0.0.1:" + std::to_string(proc.port) + "/checkpoint/" + logs[log].name());
    ASSERT_TRUE(r);
    if (cs.empty()) continue;
    ASSERT_EQ(r->status, 200);
    auto stored = ledger::OpenCheckpoint(r->body, *ledger::NoteVerifier::FromKeyText(logs[log].VerifierKeyText()));
    ASSERT_TRUE(stored);
    EXPECT_GE(stored->size, max_size) << "log " << log << ": the witness rolled back";
    int stored_branch = stored->root == trees[log][0]->Root(stored->size) ? 0 : 1;
    if (branch >= 0) {
      EXPECT_EQ(stored_branch, branch);
    }
  }
  kill(proc.pid, SIGKILL);
  waitpid(proc.pid, nullptr, 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace firebreak::oversight::witness
