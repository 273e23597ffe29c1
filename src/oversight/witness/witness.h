// A C2SP tlog-witness v1.0.0: co-signs the checkpoints of the logs it
// watches, after checking that each is consistent with the last one it
// cosigned, so that a log cannot show two different histories to two
// parties without one of them lacking this witness's cosignature.
//
// `Witness::AddCheckpoint` answers the protocol's one call (404 unknown
// origin, 403 no trusted signature, 400 malformed or old size > size, 409
// old size ≠ the size last cosigned — or equal sizes with another root —,
// 422 bad proof, 429 over the log's rate, 200 with a cosignature/v1 line);
// the new state is a compare-and-swap made durable before the answer, and
// requests showing misbehaviour are kept as evidence. `Server` puts it behind
// the shared `http::Server` with an about page and a monitoring endpoint.
//
// Error model: every protocol outcome is an `Answer` (a value); only
// infrastructure failures (the database) are `Error`s, answered 500.
// Thread model: `Witness` and `Server` are thread-safe.
//
//   FB_ASSIGN_OR_RETURN(WitnessConfig config, LoadWitnessConfig("witness.json"));
//   FB_ASSIGN_OR_RETURN(auto server, witness::Server::Start(config));
//   server->Wait();
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "ledger/note.h"

namespace firebreak::oversight::witness {

// A log the witness watches: its origin and the keys it trusts for it.
struct WatchedLog {
  std::string origin;
  std::vector<ledger::NoteVerifier> keys;  // type 0x01 note keys
};

struct WitnessConfig {
  std::string key_file;       // "PRIVATE+KEY+<name>+<id>+<base64(0x04 ‖ seed)>"
  std::string state;          // SQLite database path
  std::vector<WatchedLog> logs;
  std::string listen = "127.0.0.1:7380";
  std::string tls_cert, tls_key;  // both empty: plain HTTP (behind a TLS proxy)
  std::string prefix;             // URL prefix of every route, "" or "/..." without a final "/"
  size_t max_body_bytes = 16384;
  double rate_per_log = 50;       // add-checkpoint requests per second per origin
  double burst_per_log = 100;
  uint64_t max_evidence_per_log = 10000;
  int io_threads = 2;
  int worker_threads = 64;
};

// Reads a JSON configuration (docs/oversight.md); errors name the field.
[[nodiscard]] Result<WitnessConfig> LoadWitnessConfig(const std::string& path);
[[nodiscard]] Result<WitnessConfig> ParseWitnessConfig(std::string_view json);

// A protocol answer.
struct Answer {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class Witness {
 public:
  struct Options {
    std::vector<WatchedLog> logs;
    std::string state;  // SQLite path
    double rate_per_log = 50;
    double burst_per_log = 100;
    // Evidence kept per log at most (a replayed checkpoint with garbage
    // proofs must not fill the disk); later requests are only logged.
    uint64_t max_evidence_per_log = 10000;
    // Seconds since the epoch, for cosignature timestamps; tests pin it.
    std::function<uint64_t()> clock;
  };
  [[nodiscard]] static Result<std::unique_ptr<Witness>> Open(ledger::CosignatureSigner signer,
                                                             Options options);
  ~Witness();
  Witness(const Witness&) = delete;
  Witness& operator=(const Witness&) = delete;

  // The add-checkpoint call on a request body.
  Answer AddCheckpoint(std::string_view body);
  // The last checkpoint cosigned for `origin` (its log signatures and this
  // witness's cosignature), or nullopt.
  [[nodiscard]] Result<std::optional<std::string>> Latest(const std::string& origin);
  // A plain-text page: the witness's verifier key and the logs it watches.
  std::string About() const;
  ledger::NoteVerifier Verifier() const;

  struct Evidence {
    int64_t received = 0;
    std::string origin;
    int status = 0;
    std::string reason;
    std::string request;
    std::string stored;
  };
  // Requests kept as evidence of misbehaviour, oldest first.
  [[nodiscard]] Result<std::vector<Evidence>> ListEvidence(size_t limit = 1000);

  struct Impl;

 private:
  explicit Witness(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The witness over HTTP (http::Server):
//   POST <prefix>/add-checkpoint        the protocol call
//   GET  <prefix>/checkpoint/<origin>   the latest cosigned checkpoint of a log
//   GET  <prefix>/                      the about page
class Server {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Server>> Start(const WitnessConfig& config);
  ~Server();
  uint16_t port() const;
  Witness& witness();
  // Blocks until SIGINT or SIGTERM, then stops.
  void Wait();
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak::oversight::witness
