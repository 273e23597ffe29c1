// One log shared by several gateway nodes on PostgreSQL (issue 14): each
// node opens a ClusterLog; the node holding the lease **sequences** (runs
// the Appender over a fenced PgLogStorage), every other node forwards its
// entries through the database queue and waits until the sequencer has made
// them durable. Any node reads the published log (tiles, bundles,
// checkpoint) from the database.
//
// The lease thread contends for the lease every tenth of its term; once it
// holds it, it recovers the log (the Appender's recovery: the write-ahead
// batches after the last checkpoint are replayed, each checked against its
// recorded root, before anything is signed), then renews it every third of
// its term. A failed renewal or a failed write demotes the node: its
// Appender is closed (its waiting entries fail: the gateway answers 503), it
// gives the lease up and contends again. The claim thread of the sequencer
// moves queued entries into the Appender; the batch that makes them durable
// marks their rows in the same transaction (PgLogStorage::Bind), so each is
// sequenced exactly once. The waiter thread of every node polls its own
// forwarded rows and calls their callbacks.
//
// Error model: `Error`s; an entry not durable within `forward_timeout` (no
// sequencer, the database unreachable) fails with kUnavailable — it may
// still be sequenced later (failing closed: the request is refused, the log
// records its decision).
// Thread model: thread-safe.
//
//   FB_ASSIGN_OR_RETURN(auto log, ClusterLog::Open(options, signer));
//   FB_ASSIGN_OR_RETURN(uint64_t index, log->Add(entry));  // durable, on any node
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/error.h"
#include "ledger/appender.h"
#include "ledger/note.h"
#include "ledger/pg_storage.h"

namespace firebreak::ledger {

struct ClusterLogOptions {
  std::string url;          // postgresql://…
  std::string log = "log";  // the log's name in the database
  std::string node;         // this node's name (in the lease row, with a random suffix)
  std::chrono::milliseconds lease_term{3000};
  std::chrono::milliseconds publish_interval{500};
  std::chrono::milliseconds forward_timeout{10000};
};

struct ClusterLogHealth {
  bool leading = false;
  uint64_t epoch = 0;         // of the lease held, 0 if none
  bool failed = false;        // the sequencer's appender stopped (until demoted)
  bool publish_stalled = false;
  uint64_t leaderships = 0;   // leases taken since start
  uint64_t forwarded_waiting = 0;
  std::string last_error;
};

class ClusterLog {
 public:
  // Connects (kUnavailable naming host and database if unreachable) and
  // starts contending for the lease; returns at once.
  static Result<std::unique_ptr<ClusterLog>> Open(const ClusterLogOptions& options, const NoteSigner& signer);
  ~ClusterLog();
  ClusterLog(const ClusterLog&) = delete;
  ClusterLog& operator=(const ClusterLog&) = delete;

  // Queues `entry`; `on_durable` is called once, on an internal thread, with
  // its index once durable or with the error that stopped it. It must not
  // block. An error returned here means `on_durable` is never called.
  using DurableCallback = Appender::DurableCallback;
  Status Enqueue(std::string_view entry, DurableCallback on_durable);
  // Queues `entry` and waits until it is durable.
  Result<uint64_t> Add(std::string_view entry);
  // Waits until a published checkpoint covers `index` (kUnavailable after
  // `timeout`).
  Status WaitPublished(uint64_t index, std::chrono::milliseconds timeout);
  // The latest published checkpoint (empty if it cannot be read now).
  std::string checkpoint();
  // Its size, as last read.
  uint64_t published_size();
  // For reads: the log in the database (any node).
  PgLogStorage& reader() { return *reader_; }
  ClusterLogHealth health() const;
  // Stops the threads; a sequencer publishes what it sequenced and gives
  // the lease up, so another node takes over at once.
  Status Close();

 private:
  ClusterLog(ClusterLogOptions options, const NoteSigner& signer);
  void LeaseLoop();
  void ClaimLoop();
  void WaitLoop();
  bool Lead();     // lease thread: recover and start sequencing
  void Demote(const std::string& why);  // lease thread

  const ClusterLogOptions options_;
  const NoteSigner& signer_;
  std::string holder_;
  std::unique_ptr<PgLogStorage> writer_;  // fenced by the lease
  std::unique_ptr<PgLogStorage> reader_;  // reads and the queue

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::shared_ptr<Appender> appender_;  // while leading
  uint64_t epoch_ = 0;
  uint64_t leaderships_ = 0;
  std::string last_error_;
  // Queue ids enqueued in this leadership's appender, with when they were
  // seen durable.
  std::map<uint64_t, std::optional<std::chrono::steady_clock::time_point>> claimed_;
  struct Waiter {
    DurableCallback callback;
    std::chrono::steady_clock::time_point deadline;
  };
  std::map<uint64_t, Waiter> waiting_;  // forwarded, by queue id
  std::string checkpoint_cache_;
  uint64_t published_cache_ = 0;

  std::thread lease_thread_;
  std::thread claim_thread_;
  std::thread wait_thread_;
};

}  // namespace firebreak::ledger
