// The gateway as a witnessed log: every new checkpoint the appender
// publishes is sent, the same to all, in parallel, to the configured
// witnesses (C2SP tlog-witness, through ledger/witness_protocol.h and
// http::Client), with a consistency proof built from the log's tiles from
// the size each witness last cosigned (learnt from its 409, starting from
// 0). Valid cosignatures are kept with their checkpoint; a checkpoint that
// `quorum` witnesses cosigned is *witnessed*.
//
// A witness that misbehaves — claims a size larger than the log's own,
// answers 422 (our history is not the one it holds) or 403, or holds another
// root at our size — raises an alarm: a counter
// (firebreak_witness_alarms_total{witness, reason}) and a log line; it is not
// retried until the next checkpoint. Unreachable witnesses and other
// failures are counted as errors (firebreak_witness_errors_total).
// Only checkpoints leave: nothing about any request or person.
//
// Error model: none escapes; outcomes are counted and logged.
// Thread model: thread-safe; one background thread polls the appender's
// checkpoint and runs each round, one short-lived thread per witness. A
// checkpoint is witnessed as soon as the quorum has cosigned it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "gateway/internal/metrics.h"
#include "http/client.h"
#include "ledger/note.h"
#include "ledger/storage.h"

namespace firebreak::gateway::internal {

class Witnessing {
 public:
  struct WitnessSpec {
    std::string url;  // submission prefix
    ledger::NoteVerifier key;
  };
  struct Options {
    std::vector<WitnessSpec> witnesses;
    size_t quorum = 0;
    std::chrono::milliseconds timeout{3000};
    std::string ca_file;
    std::chrono::milliseconds poll{10};
  };
  // `latest` returns the log's newest signed checkpoint; `tiles` reads the
  // log's tiles. Both must outlive this object.
  static Result<std::unique_ptr<Witnessing>> Start(Options options, std::function<std::string()> latest,
                                                   ledger::LogStorage& tiles, Metrics& metrics);
  ~Witnessing();  // Shutdown()
  // Stops the thread; pending waiters get `false`, later ones an answer from
  // what was witnessed so far. Idempotent.
  void Shutdown();
  Witnessing(const Witnessing&) = delete;
  Witnessing& operator=(const Witnessing&) = delete;

  // The checkpoint to serve at /log/checkpoint: the newest witnessed one,
  // with its cosignatures; until one is, the newest with those it has ("" if
  // no round has run yet).
  std::string Served() const;
  // `note` with the cosignatures collected for its checkpoint text (`note`
  // unchanged when there are none).
  std::string WithCosignatures(const std::string& note) const;
  // The size of the newest witnessed checkpoint (0 if none).
  uint64_t witnessed_size() const;
  // Calls `done(true)` once a witnessed checkpoint covers entry `index`, or
  // `done(false)` at `deadline` (or at shutdown). Called on a witnessing
  // thread (or at once on the caller's); must not block.
  void WhenWitnessed(uint64_t index, std::chrono::steady_clock::time_point deadline,
                     std::function<void(bool)> done);
  // Metric lines (gauges) for /metrics.
  std::string RenderGauges() const;

 private:
  struct PerWitness;
  struct Waiter {
    uint64_t index;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(bool)> done;
  };
  Witnessing(Options options, std::function<std::string()> latest, ledger::LogStorage& tiles,
             Metrics& metrics);
  void Loop();
  void Round(const std::string& note);
  // One witness's part of a round: its cosignature, or nullopt.
  std::optional<ledger::NoteSignature> Ask(PerWitness& w, const std::string& note, const std::string& text,
                                           uint64_t size);
  // Adds a witness's cosignature of `text` to the round's note.
  void Collect(const std::string& text, uint64_t size, const ledger::NoteSignature& cosig);
  void Alarm(PerWitness& w, const std::string& reason, const std::string& detail);
  void Error(PerWitness& w, const std::string& reason, const std::string& detail);
  void Notify();

  Options options_;
  std::function<std::string()> latest_;
  ledger::LogStorage& tiles_;
  Metrics& metrics_;
  std::unique_ptr<http::Client> client_;
  std::vector<std::unique_ptr<PerWitness>> witnesses_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                 // guarded by mu_
  std::string round_text_;            // guarded by mu_: checkpoint text of the last round
  std::string round_note_;            // guarded by mu_: its note with the cosignatures
  size_t round_count_ = 0;            // guarded by mu_: how many
  std::string witnessed_text_;        // guarded by mu_: the newest witnessed checkpoint
  std::string witnessed_note_;        // guarded by mu_
  uint64_t witnessed_size_ = 0;       // guarded by mu_
  bool has_witnessed_ = false;        // guarded by mu_
  std::vector<Waiter> waiters_;       // guarded by mu_
  std::thread thread_;
};

}  // namespace firebreak::gateway::internal
