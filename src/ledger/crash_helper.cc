// Test helper for crash_test.cc: opens (recovering) the log in argv[1] with
// the key in argv[2] and appends from argv[3] threads until killed, printing
// "ack <index> <entry>" for each entry once Add() has returned (durable).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/files.h"
#include "ledger/ledger.h"

using namespace firebreak;
using namespace firebreak::ledger;

namespace {

void WriteLine(const std::string& line) {
  // One write() per line: atomic on a pipe (< PIPE_BUF), whole or not at all.
  ssize_t n = ::write(1, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) std::_Exit(4);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DIR KEYFILE THREADS PUBLISH_MS\n", argv[0]);
    return 2;
  }
  auto key = ReadFile(argv[2]);
  if (!key) return 2;
  while (!key->empty() && key->back() == '\n') key->pop_back();
  auto signer = NoteSigner::FromKeyText(*key);
  if (!signer) return 2;
  auto storage = PosixStorage::Open(argv[1]);
  if (!storage) {
    std::fprintf(stderr, "%s\n", storage.error().ToString().c_str());
    return 3;
  }
  AppenderOptions options;
  options.publish_interval = std::chrono::milliseconds(std::atoi(argv[4]));
  auto log = Appender::Open(**storage, *signer, options);
  if (!log) {
    std::fprintf(stderr, "%s\n", log.error().ToString().c_str());
    return 3;
  }
  WriteLine("ready " + std::to_string((*log)->sequenced_size()) + "\n");
  int threads = std::atoi(argv[3]);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = 0;; ++i) {
        std::string entry = "{\"pid\":" + std::to_string(::getpid()) + ",\"t\":" +
                            std::to_string(t) + ",\"i\":" + std::to_string(i) + ",\"pad\":\"" +
                            std::string((i * 37 + static_cast<uint64_t>(t)) % 200, 'p') + "\"}";
        auto index = (*log)->Add(entry);
        if (!index) {
          std::fprintf(stderr, "add failed: %s\n", index.error().ToString().c_str());
          std::_Exit(3);
        }
        WriteLine("ack " + std::to_string(*index) + " " + entry + "\n");
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
