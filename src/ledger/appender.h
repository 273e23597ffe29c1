// The appender: many callers add entries concurrently; one sequencer thread
// writes them to the write-ahead log in batches with one fdatasync each
// (group commit) and acknowledges each entry's index once it is durable
// (**sequenced**); one publisher thread materialises tiles and bundles from
// the sequenced batches and signs a checkpoint covering them within about
// `publish_interval` (**published**).
//
// Publishing in steps: each step writes the tiles and bundles of some
// sequenced batches, makes them durable (one `syncfs`), then signs and
// replaces the checkpoint. A step starts when the oldest unpublished batch
// would otherwise miss `publish_interval`, judged by how long the last step
// took, or one interval after the last step ended if that is sooner; so an
// entry after a quiet spell is published at once, under steady load a step
// covers about one interval of entries, and when steps take long (many
// entries per second) they run back to back. A
// step covers at most `max_step_entries` (whole batches, at least one), so a
// backlog is published in several smaller steps, oldest first, each with its
// own checkpoint, instead of one long step that publishes nothing until the
// end.
//
// Recovery (`Open`): the latest checkpoint's tiles are the trusted prefix;
// the write-ahead log after it is replayed batch by batch, each batch checked
// against the tree root it recorded; the first torn or corrupt batch and all
// after it are cut. Every sequenced entry is therefore still at its index,
// and the next checkpoint extends the last one (the log never signs two
// inconsistent checkpoints: every root is computed from the previous
// checkpoint's own tiles, twice — by the compact range and by the tiles —
// and signing stops if they disagree).
//
// Error model: `Error`s; after a failure of the write-ahead log the appender
// fails closed: every later call returns that error. A failure to publish
// (tiles, checkpoint) is retried with back-off instead, since every entry is
// already durable; `health()` says when publishing is stalled.
// Thread model: thread-safe. `storage` and `signer` must outlive the appender.
//
//   FB_ASSIGN_OR_RETURN(auto log, Appender::Open(storage, signer));
//   FB_ASSIGN_OR_RETURN(uint64_t index, log->Add(entry));  // durable
//   FB_RETURN_IF_ERROR(log->WaitPublished(index));          // in a checkpoint
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/error.h"
#include "ledger/compact_range.h"
#include "ledger/note.h"
#include "ledger/storage.h"
#include "ledger/tiles.h"

namespace firebreak::ledger {

struct AppenderOptions {
  // A sequenced entry is published within about this long, as long as the
  // publisher keeps up (steps start early enough for the last step's
  // duration to fit; see "Publishing in steps" above).
  std::chrono::milliseconds publish_interval{500};
  // The most entries one publishing step covers when more are waiting (256
  // full bundles and their level-0 tiles: 512 new files). A step always
  // covers at least one whole batch. REQUIRES: >= 1.
  uint64_t max_step_entries = uint64_t{1} << 16;
};

// What /readyz and the metrics report about the appender.
struct AppenderHealth {
  bool failed = false;           // stopped for good (durability could not be kept)
  bool publish_stalled = false;  // publishing has been failing for a while (retried)
  uint64_t publish_retries = 0;  // failed publishing attempts, since start
  std::string last_error;        // of the last failed attempt
};

class Appender {
 public:
  // Writes the signed checkpoint of the empty tree into a new log.
  static Status InitLog(LogStorage& storage, const NoteSigner& signer);

  // Recovers the log and starts the sequencer and publisher threads. The
  // checkpoint must be signed by `signer`, whose name is the origin.
  static Result<std::unique_ptr<Appender>> Open(LogStorage& storage, const NoteSigner& signer,
                                                AppenderOptions options = {});

  ~Appender();
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  // Adds `entry` and returns its index once it is durable (sequenced).
  // kInvalidArgument if the entry exceeds 65,535 bytes.
  Result<uint64_t> Add(std::string_view entry);
  // Queues `entry` and returns the index it will have; it is durable only
  // after WaitSequenced(index) returns Ok.
  Result<uint64_t> Enqueue(std::string_view entry);
  // Queues `entry`; `on_durable` is called once, on the sequencer thread,
  // with its index when it is durable, or with the error that stopped the
  // log. It must not block (post the rest of the work elsewhere). When this
  // returns an error, `on_durable` is never called.
  using DurableCallback = std::function<void(Result<uint64_t>)>;
  Result<uint64_t> Enqueue(std::string_view entry, DurableCallback on_durable);
  Status WaitSequenced(uint64_t index);
  // Blocks until a signed checkpoint covering `index` is published, or
  // `timeout` has passed (kUnavailable: publishing is behind or stalled).
  Status WaitPublished(uint64_t index,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds::max());
  // Publishes now: returns a checkpoint covering everything sequenced so far.
  Result<std::string> Publish();
  // Drains, publishes a final checkpoint and stops the threads.
  Status Close();

  uint64_t sequenced_size() const;
  uint64_t published_size() const;
  std::string checkpoint() const;
  AppenderHealth health() const;

 private:
  struct Batch {
    std::string payload;       // bundle encoding of the entries
    std::vector<Hash> leaves;  // their leaf hashes
    uint64_t end_size;         // tree size after the batch
    uint64_t wal_end;          // WAL offset after the batch
    Hash root;                 // tree root after the batch
    std::chrono::steady_clock::time_point sequenced_at{};  // when it became durable
  };

  // One group commit's callers: the entries queued between two cuts. Each
  // caller blocked in Add() or WaitSequenced() sleeps on `state` (a futex
  // word) and is woken exactly once, when the commit's `fdatasync` returned
  // (kDurable) or when it never will (kAbandoned), so a commit wakes only its
  // own callers and they never contend for `mu_` on the way out.
  struct Commit {
    static constexpr uint32_t kPending = 0, kDurable = 1, kAbandoned = 2;
    std::atomic<uint32_t> state{kPending};
  };

  Appender(LogStorage& storage, const NoteSigner& signer, AppenderOptions options);
  Status Recover();
  Result<uint64_t> EnqueueLocked(std::string_view entry, DurableCallback on_durable,
                                 std::shared_ptr<Commit>* commit);  // REQUIRES: mu_ held
  // Blocks until `commit` is resolved; the error is the log's (mu_ not held).
  Status WaitCommit(Commit& commit, uint64_t index);
  // Resolves `commit` and wakes every caller sleeping on it.
  static void Resolve(Commit& commit, uint32_t state);
  void SequencerLoop();
  void PublisherLoop();
  // When the next step should start, given the oldest unpublished batch.
  // REQUIRES: mu_ held, !to_publish_.empty().
  std::chrono::steady_clock::time_point NextStepAt() const;
  // Materialises `batches` and signs and writes a checkpoint. Publisher only.
  // `retry`: transient write failures are retried until stopping (the
  // publisher thread); otherwise the first failure is returned (recovery).
  Status PublishBatches(std::vector<Batch> batches, bool retry = true);
  Status Failed() const;  // REQUIRES: mu_ held

  LogStorage& storage_;
  const NoteSigner& signer_;
  const AppenderOptions options_;

  // Owned by the sequencer thread (or Open before it starts).
  CompactRange compact_;
  uint64_t wal_offset_ = 0;
  // Owned by the publisher thread (or Open before it starts).
  Tiler tiler_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;       // sequencer: pending entries or stop
  // Waiters on an index not queued yet (rare); notified after each commit
  // only while there are any.
  std::condition_variable sequenced_cv_;
  int future_waiters_ = 0;
  // The commit now being written, covering [syncing_first_, syncing_end_),
  // and the open one that entries from open_first_ to next_index_ join.
  std::shared_ptr<Commit> syncing_;
  uint64_t syncing_first_ = 0, syncing_end_ = 0;
  std::shared_ptr<Commit> open_;
  uint64_t open_first_ = 0;
  std::condition_variable publish_cv_;    // publisher: batches, force or stop
  std::condition_variable published_cv_;  // waiters on published
  std::string pending_;                   // bundle encoding of queued entries
  uint64_t pending_count_ = 0;
  // Callbacks of queued entries, by index (entries without one have none).
  std::vector<std::pair<uint64_t, DurableCallback>> pending_callbacks_;
  uint64_t next_index_ = 0;
  uint64_t sequenced_size_ = 0;
  uint64_t published_size_ = 0;
  std::deque<Batch> to_publish_;
  // Publish() asked for everything below this size now (no waiting).
  uint64_t publish_now_below_ = 0;
  bool stopping_ = false;
  bool sequencer_done_ = false;
  bool publisher_done_ = false;
  std::optional<Error> failure_;
  std::string checkpoint_;
  // When the last publishing step ended (Open, before any) and how long it
  // took (publisher thread only).
  std::chrono::steady_clock::time_point last_step_end_;
  std::chrono::steady_clock::duration last_step_duration_{};
  // Publishing failures are retried (the entries are durable in the WAL
  // already): since when it has been failing, and how often.
  std::optional<std::chrono::steady_clock::time_point> publish_failing_since_;
  uint64_t publish_retries_ = 0;
  std::string publish_error_;

  std::thread sequencer_;
  std::thread publisher_;
};

}  // namespace firebreak::ledger
