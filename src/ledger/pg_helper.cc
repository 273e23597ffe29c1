// Test helper for pg_storage_test.cc: one "gateway node" of the log on
// PostgreSQL. It contends for the lease of log argv[2] at argv[1]; once it
// holds it, it recovers the log (creating it if new), renews the lease every
// third of its term and appends from argv[5] threads, printing
//   "lead <epoch>"                once it holds the lease,
//   "ready <epoch> <size>"        once recovered,
//   "ack <index> <entry>"         for each entry once Add() returned (durable),
//   "lost <epoch> <why>"          when the lease or a write is refused (exit 5).
// Usage: ledger_pg_helper URL LOG KEYFILE TERM_MS THREADS
//
// With "node" first, it is a ClusterLog node instead: every node appends
// from THREADS threads (forwarded to the sequencer unless it is the one),
// printing "ack <index> <entry>" once each entry is durable.
// Usage: ledger_pg_helper node URL LOG KEYFILE TERM_MS THREADS
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/files.h"
#include "ledger/ledger.h"
#include "ledger/cluster_log.h"
#include "ledger/pg_storage.h"

using namespace firebreak;
using namespace firebreak::ledger;

namespace {

void WriteLine(const std::string& line) {
  ssize_t n = ::write(1, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) std::_Exit(4);
}

[[noreturn]] void Lost(uint64_t epoch, const std::string& why) {
  std::string m = why;
  for (char& c : m) {
    if (c == '\n') c = ' ';
  }
  WriteLine("lost " + std::to_string(epoch) + " " + m + "\n");
  std::_Exit(5);
}

}  // namespace

int Node(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s node URL LOG KEYFILE TERM_MS THREADS\n", argv[0]);
    return 2;
  }
  auto key = ReadFile(argv[4]);
  if (!key) return 2;
  while (!key->empty() && key->back() == '\n') key->pop_back();
  auto signer = NoteSigner::FromKeyText(*key);
  if (!signer) return 2;
  ClusterLogOptions o;
  o.url = argv[2];
  o.log = argv[3];
  o.node = "node" + std::to_string(::getpid());
  o.lease_term = std::chrono::milliseconds(std::atoi(argv[5]));
  o.publish_interval = std::chrono::milliseconds(50);
  o.forward_timeout = std::chrono::seconds(20);
  auto log = ClusterLog::Open(o, *signer);
  if (!log) {
    std::fprintf(stderr, "%s\n", log.error().ToString().c_str());
    return 3;
  }
  WriteLine("started\n");
  std::vector<std::thread> workers;
  for (int t = 0; t < std::atoi(argv[6]); ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = 0;; ++i) {
        std::string entry = "{\"pid\":" + std::to_string(::getpid()) + ",\"t\":" + std::to_string(t) +
                            ",\"i\":" + std::to_string(i) + "}";
        auto index = (*log)->Add(entry);
        if (!index) {
          // Not durable in time (no sequencer): the request would be refused.
          WriteLine("fail " + entry + "\n");
          continue;
        }
        WriteLine("ack " + std::to_string(*index) + " " + entry + "\n");
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "node") return Node(argc, argv);
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s URL LOG KEYFILE TERM_MS THREADS\n", argv[0]);
    return 2;
  }
  auto key = ReadFile(argv[3]);
  if (!key) return 2;
  while (!key->empty() && key->back() == '\n') key->pop_back();
  auto signer = NoteSigner::FromKeyText(*key);
  if (!signer) return 2;
  const auto term = std::chrono::milliseconds(std::atoi(argv[4]));
  const int threads = std::atoi(argv[5]);
  const std::string holder = "helper/" + std::to_string(::getpid());

  std::unique_ptr<PgLogStorage> storage;
  while (!storage) {
    auto s = PgLogStorage::Open(argv[1], argv[2]);
    if (s) {
      storage = std::move(*s);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  uint64_t epoch = 0;
  while (epoch == 0) {
    auto got = storage->TryAcquireLease(holder, term);
    if (got && *got) {
      epoch = **got;
    } else {
      std::this_thread::sleep_for(term / 10);
    }
  }
  WriteLine("lead " + std::to_string(epoch) + "\n");
  std::thread renew([&] {
    for (;;) {
      std::this_thread::sleep_for(term / 3);
      Status st = storage->RenewLease(term);
      if (!st) Lost(epoch, st.error().ToString());
    }
  });
  renew.detach();
  if (auto cp = storage->ReadFile("checkpoint"); !cp) {
    if (cp.error().code() != ErrorCode::kNotFound) Lost(epoch, cp.error().ToString());
    if (Status st = Appender::InitLog(*storage, *signer); !st) Lost(epoch, st.error().ToString());
  }
  AppenderOptions options;
  options.publish_interval = std::chrono::milliseconds(50);
  auto log = Appender::Open(*storage, *signer, options);
  if (!log) Lost(epoch, log.error().ToString());
  WriteLine("ready " + std::to_string(epoch) + " " + std::to_string((*log)->sequenced_size()) + "\n");
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = 0;; ++i) {
        std::string entry = "{\"pid\":" + std::to_string(::getpid()) + ",\"t\":" + std::to_string(t) +
                            ",\"i\":" + std::to_string(i) + ",\"pad\":\"" +
                            std::string((i * 37 + static_cast<uint64_t>(t)) % 100, 'p') + "\"}";
        auto index = (*log)->Add(entry);
        if (!index) Lost(epoch, index.error().ToString());
        WriteLine("ack " + std::to_string(*index) + " " + entry + "\n");
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
