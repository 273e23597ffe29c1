// Test and benchmark support: a `firebreak witness serve` process watching
// one log, on an ephemeral loopback port (read from its stderr).
//
// Thread model: thread-compatible.
#pragma once

#include <sys/prctl.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include "base/files.h"
#include "ledger/note.h"

namespace firebreak::gateway::testing {

inline const std::string kFirebreakBinary = std::string(FIREBREAK_BINARY_DIR) + "/src/cli/firebreak";

inline std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A witness process watching the demo force's log.
struct WitnessProcess {
  std::string name, dir;
  std::unique_ptr<ledger::CosignatureSigner> key;
  pid_t pid = -1;
  uint16_t port = 0;

  // When both are set, it serves HTTPS with this certificate (no client
  // certificate asked for).
  std::string tls_cert, tls_key;

  WitnessProcess() = default;
  WitnessProcess(const WitnessProcess&) = delete;
  WitnessProcess& operator=(const WitnessProcess&) = delete;
  // A test that fails half-way must not leave its witnesses running (they
  // hold ctest's output pipe open, and ctest would wait for them).
  ~WitnessProcess() { Kill(); }

  std::string url() const {
    return (tls_cert.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(port);
  }
  std::string config() const { return dir + "/witness.json"; }

  // Starts it (again, with the same key and state); false if it did not.
  bool Start(const std::string& origin, const std::string& log_vkey) {
    port = 0;
    std::filesystem::create_directories(dir);
    if (!key) {
      key = std::make_unique<ledger::CosignatureSigner>(*ledger::CosignatureSigner::Generate(name));
      if (!WriteFileAtomically(dir + "/w.key", key->PrivateKeyText() + "\n", 0600)) return false;
      std::string tls = tls_cert.empty() ? ""
                                         : R"("tls": {"cert": ")" + tls_cert + R"(", "key": ")" + tls_key + R"("},)";
      if (!WriteFileAtomically(config(), R"({"key": "w.key", "state": "state.db", "listen": "127.0.0.1:0", )" + tls + R"(
          "logs": [{"origin": ")" + origin + R"(", "keys": [")" + log_vkey + R"("]}]})")) {
        return false;
      }
    }
    std::string err = dir + "/stderr";
    pid = fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // and not if the test process dies either
      FILE* f = std::freopen(err.c_str(), "w", stderr);
      (void)f;
      execl(kFirebreakBinary.c_str(), kFirebreakBinary.c_str(), "witness", "serve", "--config", config().c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    std::regex port_re("\\(port ([0-9]+)\\)");
    for (int i = 0; i < 2000 && port == 0; ++i) {
      std::ifstream in(err);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::smatch m;
      if (std::regex_search(text, m, port_re)) port = uint16_t(std::stoi(m[1]));
      if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return port > 0;
  }
  void Kill() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    pid = -1;
  }
};

}  // namespace firebreak::gateway::testing
