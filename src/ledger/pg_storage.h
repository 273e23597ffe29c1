// The log's storage in PostgreSQL (issue 14), so that several gateway nodes
// share one log: any node reads it (tiles, bundles, checkpoint: `/log/…`,
// receipts, `log verify`), and exactly one node at a time — the holder of
// the **lease** — writes it.
//
// Tables (their own version row, `fb_log_schema_version`, apart from the
// store's migrations; several logs can share a database, keyed by `log`):
//   fb_log_lease(log, holder, epoch, expires_at)   one row per log
//   fb_log_wal(log, wal_offset, bytes, epoch)      one row per write-ahead batch
//   fb_log_files(log, path, data, epoch)           tiles, bundles, hints, checkpoint
//
// The lease: `TryAcquireLease` is one `INSERT … ON CONFLICT DO UPDATE … WHERE
// the lease has expired RETURNING epoch`; each acquisition gets an epoch
// greater than every earlier one. Expiry is judged by the database's clock
// only (clock_timestamp()), never a node's. **Fencing**: every write
// (AppendWal, TruncateWal, WriteFiles, WriteCheckpoint) runs in one
// SERIALIZABLE transaction that first locks the lease row (FOR SHARE) and
// checks that it still carries this storage's epoch and has not expired; a
// takeover's update of that row waits for such transactions, and after it
// none can commit. A node that lost its lease (paused, partitioned) can
// therefore never write again: its writes fail with kFailedPrecondition.
// Reads are not fenced.
//
// SQL within what CockroachDB also speaks (no advisory locks, LISTEN/NOTIFY,
// triggers, SERIAL). Every transaction is retried (bounded) on a
// serialisation failure or a connection lost; each write is idempotent
// (AppendWal at an explicit offset, compared if the row is there already).
//
// Error model: `Error`s; a lost lease is kFailedPrecondition, an unreachable
// server kUnavailable; messages never carry the URL's password.
// Thread model: thread-safe (a pool of connections).
//
//   FB_ASSIGN_OR_RETURN(auto s, PgLogStorage::Open(url));
//   FB_ASSIGN_OR_RETURN(std::optional<uint64_t> epoch, s->TryAcquireLease("node-a/…", 3s));
//   if (epoch) { FB_ASSIGN_OR_RETURN(auto log, Appender::Open(*s, signer)); … s->RenewLease(3s); }
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "ledger/storage.h"
#include "pg/pg.h"

namespace firebreak::ledger {

class PgLogStorage : public LogStorage {
 public:
  // Connects to `url` (postgresql://…) and brings the log's tables up to
  // date (creating them in an empty database). `log` names the log inside
  // the database. kUnavailable naming host and database if unreachable.
  static Result<std::unique_ptr<PgLogStorage>> Open(const std::string& url, const std::string& log = "log");
  ~PgLogStorage() override;

  // ---- The lease ----
  // Takes the lease for `holder` if nobody holds it or it has expired: the
  // new epoch (greater than every earlier one), from then on fencing this
  // storage's writes; nullopt if another live lease stands.
  Result<std::optional<uint64_t>> TryAcquireLease(const std::string& holder, std::chrono::milliseconds term);
  // Extends the held lease to `term` from now; kFailedPrecondition if it
  // was lost (expired or taken over), after which this storage never writes.
  Status RenewLease(std::chrono::milliseconds term);
  // Gives the lease up (it expires now), so another node need not wait out
  // the term. This storage writes nothing more.
  Status ReleaseLease();
  // The epoch fencing writes (0: none; every write is refused).
  uint64_t epoch() const;

  struct LeaseInfo {
    std::string holder;
    uint64_t epoch = 0;
    bool live = false;  // not expired by the database's clock
  };
  Result<std::optional<LeaseInfo>> CurrentLease();

  // Tests only: fence writes with `epoch` without acquiring (to play a
  // node that believes it still holds an old lease).
  void SetEpochForTest(uint64_t epoch);

  // The tree size after the last write-ahead batch (0 if none): what is
  // durable, published or not, whichever node sequenced it.
  Result<uint64_t> SequencedSize();

  // ---- The queue of forwarded entries (ClusterLog) ----
  // A node that does not sequence queues its entry (kept until deleted);
  // the sequencer reads the queue, appends the entries and marks each row
  // with its index in the same transaction as the write-ahead batch that
  // holds it, so an entry is sequenced once whichever node fails when.
  Result<uint64_t> QueueEntry(std::string_view entry);  // its queue id
  struct Queued {
    uint64_t id;
    std::string entry;
  };
  // Up to `limit` unsequenced rows, oldest first.
  Result<std::vector<Queued>> UnsequencedEntries(size_t limit);
  // The indices of those of `ids` that are sequenced (id → index).
  Result<std::vector<std::pair<uint64_t, uint64_t>>> SequencedOf(std::span<const uint64_t> ids);
  Status DeleteQueued(std::span<const uint64_t> ids);
  // Binds log index `index` to queue row `id`: the batch that holds the
  // index marks the row. Hold LockBindings() from before the entry is
  // enqueued in the Appender until it is bound, so no batch holding it is
  // written before (AppendWal takes the same lock).
  std::unique_lock<std::mutex> LockBindings() { return std::unique_lock<std::mutex>(bind_mu_); }
  void Bind(uint64_t index, uint64_t id) { bound_[index] = id; }  // REQUIRES: LockBindings() held
  void ClearBindings();

  // ---- LogStorage ----
  Status AppendWal(std::string_view bytes) override;
  Result<uint64_t> WalSize() override;
  Result<std::string> ReadWal(uint64_t offset, size_t length) override;
  Status TruncateWal(uint64_t length) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Status WriteFiles(std::span<const TileFile> files) override;
  Status WriteCheckpoint(std::string_view signed_checkpoint) override;

  // "(host …, database …)" of the URL, for messages (no password).
  const std::string& where() const { return endpoint_.where; }

 private:
  PgLogStorage(pg::Endpoint endpoint, std::string log);

  using Body = std::function<Status(pg::Connection&)>;
  // One transaction around `body` (SERIALIZABLE), retried from the start on
  // a serialisation failure or a lost connection, at most a bounded number
  // of times.
  Status Transaction(const std::string& what, const Body& body);
  // A write: `body` after the lease check, in one transaction.
  Status Fenced(const std::string& what, const Body& body);

  const pg::Endpoint endpoint_;  // the URL, "(host …, database …)", the password to scrub
  const std::string log_;
  pg::Pool pool_;  // at most 8 idle; empties when the server goes away

  mutable std::mutex mu_;
  uint64_t epoch_ = 0;
  std::optional<uint64_t> wal_end_;  // the write-ahead log's size, once known
  std::mutex wal_mu_;                // serialises AppendWal / TruncateWal
  std::mutex bind_mu_;
  std::map<uint64_t, uint64_t> bound_;  // log index → queue id
};

}  // namespace firebreak::ledger
