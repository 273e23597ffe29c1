#include "ledger/pg_storage.h"

#include "base/crypto.h"

#include <utility>

namespace firebreak::ledger {
namespace {

// Migration i brings the log's tables from version i to i + 1 (the one row
// of fb_log_schema_version). Never edit a shipped migration.
constexpr const char* kMigrations[] = {
    // 0 → 1
    R"sql(
CREATE TABLE fb_log_lease(
  log TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch INT8 NOT NULL, expires_at TIMESTAMPTZ NOT NULL);
CREATE TABLE fb_log_wal(
  log TEXT NOT NULL, wal_offset INT8 NOT NULL, bytes BYTEA NOT NULL, epoch INT8 NOT NULL,
  PRIMARY KEY(log, wal_offset));
CREATE TABLE fb_log_files(
  log TEXT NOT NULL, path TEXT NOT NULL, data BYTEA NOT NULL, epoch INT8 NOT NULL,
  PRIMARY KEY(log, path));
CREATE TABLE fb_log_queue(
  log TEXT NOT NULL, id INT8 NOT NULL, entry BYTEA NOT NULL, log_index INT8,
  created TIMESTAMPTZ NOT NULL, PRIMARY KEY(log, id));
)sql",
};

// The idle connections kept for reuse.
constexpr size_t kMaxIdle = 8;

using pg::Bytes;
using pg::Int;
using pg::Rows;
using pg::Text;

uint64_t GetBe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string Interval(std::chrono::milliseconds term) { return std::to_string(term.count()) + " milliseconds"; }

// A connection of the log's: binary results, its messages marked as the
// log's, and the session's limits.
Result<std::unique_ptr<pg::Connection>> OpenConnection(const pg::Endpoint& at) {
  FB_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> c,
                      pg::Connection::Open(at, {.application_name = "firebreak-log",
                                                .message_prefix = "log storage: ",
                                                .binary_results = true}));
  // A node paused inside a transaction (SIGSTOP, a stalled VM) holds the
  // lease row's lock; the server ends its session after this long, so a
  // takeover waits at most this much beyond the lease's expiry.
  FB_RETURN_IF_ERROR(c->Script("setting the session's limits", "SET idle_in_transaction_session_timeout = 1000"));
  return c;
}

}  // namespace

PgLogStorage::PgLogStorage(pg::Endpoint endpoint, std::string log)
    : endpoint_(std::move(endpoint)),
      log_(std::move(log)),
      pool_([this] { return OpenConnection(endpoint_); }, kMaxIdle) {}

PgLogStorage::~PgLogStorage() = default;

Result<std::unique_ptr<PgLogStorage>> PgLogStorage::Open(const std::string& url, const std::string& log) {
  if (log.empty()) return tl::make_unexpected(InvalidArgument("the log's name in the database is empty"));
  FB_ASSIGN_OR_RETURN(pg::Endpoint at, pg::Endpoint::Parse(url, "the PostgreSQL log"));
  FB_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, OpenConnection(at));
  Status st = pg::Migrate(*conn, {.name = "log", .version_table = "fb_log_schema_version", .migrations = kMigrations});
  if (!st) return tl::make_unexpected(st.error().WithContext("PostgreSQL log " + at.where));
  std::unique_ptr<PgLogStorage> s(new PgLogStorage(std::move(at), log));
  s->pool_.GiveBack(std::move(conn));
  return s;
}

Status PgLogStorage::Transaction(const std::string& what, const Body& body) {
  // Every write here is idempotent, so a transaction whose connection was
  // lost (even at COMMIT) is run again.
  pg::TransactionOptions options;
  options.what = what;
  options.retry_lost_connection = true;
  return pg::RunTransaction(pool_, options, body);
}


Status PgLogStorage::Fenced(const std::string& what, const Body& body) {
  uint64_t epoch = this->epoch();
  if (epoch == 0) {
    return tl::make_unexpected(FailedPrecondition("log storage: " + what + " refused: this node holds no lease"));
  }
  return Transaction(what, [&](pg::Connection& c) -> Status {
    FB_ASSIGN_OR_RETURN(Rows r, c.Query("checking the lease",
                                      "SELECT epoch FROM fb_log_lease WHERE log = $1 AND epoch = $2 "
                                      "AND expires_at > clock_timestamp() FOR SHARE",
                                      {Text(log_), Int(epoch)}));
    if (r.size() != 1) {
      return tl::make_unexpected(FailedPrecondition("log storage: " + what + " refused: the lease of epoch " +
                                                    std::to_string(epoch) + " is lost (expired or taken over)"));
    }
    return body(c);
  });
}

uint64_t PgLogStorage::epoch() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

void PgLogStorage::SetEpochForTest(uint64_t epoch) {
  std::lock_guard lock(mu_);
  epoch_ = epoch;
}

Result<std::optional<uint64_t>> PgLogStorage::TryAcquireLease(const std::string& holder,
                                                              std::chrono::milliseconds term) {
  if (term.count() <= 0) return tl::make_unexpected(InvalidArgument("the lease term must be positive"));
  std::optional<uint64_t> got;
  FB_RETURN_IF_ERROR(Transaction("taking the lease", [&](pg::Connection& c) -> Status {
    got.reset();
    FB_ASSIGN_OR_RETURN(
        Rows r, c.Query("taking the lease",
                      "INSERT INTO fb_log_lease(log, holder, epoch, expires_at) "
                      "VALUES ($1, $2, 1, clock_timestamp() + $3::INTERVAL) "
                      "ON CONFLICT (log) DO UPDATE SET holder = excluded.holder, "
                      "epoch = fb_log_lease.epoch + 1, expires_at = excluded.expires_at "
                      "WHERE fb_log_lease.expires_at <= clock_timestamp() RETURNING epoch",
                      {Text(log_), Text(holder), Text(Interval(term))}));
    if (r.size() == 1) {
      FB_ASSIGN_OR_RETURN(uint64_t e, r.uint64(0, 0));
      got = e;
    }
    return Ok();
  }));
  if (got) {
    std::lock_guard lock(mu_);
    epoch_ = *got;
    wal_end_.reset();  // another node may have written since
  }
  return got;
}

Status PgLogStorage::RenewLease(std::chrono::milliseconds term) {
  uint64_t epoch = this->epoch();
  if (epoch == 0) return tl::make_unexpected(FailedPrecondition("log storage: no lease to renew"));
  bool renewed = false;
  FB_RETURN_IF_ERROR(Transaction("renewing the lease", [&](pg::Connection& c) -> Status {
    FB_ASSIGN_OR_RETURN(Rows r, c.Query("renewing the lease",
                                      "UPDATE fb_log_lease SET expires_at = clock_timestamp() + $3::INTERVAL "
                                      "WHERE log = $1 AND epoch = $2 AND expires_at > clock_timestamp() "
                                      "RETURNING epoch",
                                      {Text(log_), Int(epoch), Text(Interval(term))}));
    renewed = r.size() == 1;
    return Ok();
  }));
  if (!renewed) {
    return tl::make_unexpected(FailedPrecondition("log storage: the lease of epoch " + std::to_string(epoch) +
                                                  " is lost (expired or taken over)"));
  }
  return Ok();
}

Status PgLogStorage::ReleaseLease() {
  uint64_t epoch = 0;
  {
    std::lock_guard lock(mu_);
    std::swap(epoch, epoch_);
  }
  if (epoch == 0) return Ok();
  return Transaction("releasing the lease", [&](pg::Connection& c) -> Status {
    return c.Exec("releasing the lease",
                                   "UPDATE fb_log_lease SET expires_at = clock_timestamp() "
                                   "WHERE log = $1 AND epoch = $2 AND expires_at > clock_timestamp()",
                                   {Text(log_), Int(epoch)});
  });
}

Result<std::optional<PgLogStorage::LeaseInfo>> PgLogStorage::CurrentLease() {
  std::optional<LeaseInfo> out;
  FB_RETURN_IF_ERROR(Transaction("reading the lease", [&](pg::Connection& c) -> Status {
    out.reset();
    FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading the lease",
                                      "SELECT holder, epoch, (CASE WHEN expires_at > clock_timestamp() THEN 1 ELSE 0 END)::INT8 "
                                      "FROM fb_log_lease WHERE log = $1",
                                      {Text(log_)}));
    if (r.size() == 1) {
      LeaseInfo info;
      info.holder = r.text(0, 0);
      FB_ASSIGN_OR_RETURN(info.epoch, r.uint64(0, 1));
      FB_ASSIGN_OR_RETURN(uint64_t live, r.uint64(0, 2));
      info.live = live != 0;
      out = std::move(info);
    }
    return Ok();
  }));
  return out;
}

namespace {

// The end of the write-ahead log: the last row's offset plus its length.
Result<uint64_t> WalEnd(pg::Connection& c, const std::string& log) {
  FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading the write-ahead log's size",
                                    "SELECT wal_offset + length(bytes)::INT8 FROM fb_log_wal WHERE log = $1 "
                                    "ORDER BY wal_offset DESC LIMIT 1",
                                    {Text(log)}));
  if (r.size() == 0) return uint64_t{0};
  return r.uint64(0, 0);
}

}  // namespace

Status PgLogStorage::AppendWal(std::string_view bytes) {
  if (bytes.empty()) return Ok();
  std::lock_guard wal_lock(wal_mu_);
  std::optional<uint64_t> known;
  uint64_t epoch;
  {
    std::lock_guard lock(mu_);
    known = wal_end_;
    epoch = epoch_;
  }
  if (!known) {
    // Where this batch goes, known before the first attempt: a retry after
    // a COMMIT whose answer was lost must find its own row there, not append
    // the batch a second time after it.
    FB_ASSIGN_OR_RETURN(uint64_t end, WalSize());
    known = end;
  }
  // The queue rows this batch sequences (a batch: "FBW1", first index u64
  // BE, count u32 BE, …; docs/log-format.md).
  std::vector<std::pair<uint64_t, uint64_t>> marks;  // (queue id, index)
  if (bytes.size() >= 16 && bytes.substr(0, 4) == "FBW1") {
    uint64_t first = GetBe64(bytes.data() + 4);
    uint64_t count = GetBe64(bytes.data() + 8) & 0xffffffffu;
    std::lock_guard bind_lock(bind_mu_);
    for (auto it = bound_.lower_bound(first); it != bound_.end() && it->first < first + count; ++it) {
      marks.emplace_back(it->second, it->first);
    }
  }
  uint64_t at = 0;
  auto mark = [&](pg::Connection& c) -> Status {
    if (marks.empty()) return Ok();
    std::string sql = "UPDATE fb_log_queue AS q SET log_index = v.idx FROM (VALUES ";
    std::vector<pg::Param> args = {Text(log_)};
    for (size_t i = 0; i < marks.size(); ++i) {
      if (i > 0) sql += ", ";
      sql += "($" + std::to_string(args.size() + 1) + "::INT8, $" + std::to_string(args.size() + 2) + "::INT8)";
      args.push_back(Int(marks[i].first));
      args.push_back(Int(marks[i].second));
    }
    sql += ") AS v(id, idx) WHERE q.log = $1 AND q.id = v.id";
    return c.Exec("marking forwarded entries sequenced", sql.c_str(), args);
  };
  FB_RETURN_IF_ERROR(Fenced("appending to the write-ahead log", [&](pg::Connection& c) -> Status {
    FB_ASSIGN_OR_RETURN(uint64_t end, WalEnd(c, log_));
    if (known && end != *known) {
      // Only a retry of a COMMIT whose answer was lost can have moved it:
      // then the row at `known` is ours, byte for byte.
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading the write-ahead log",
                                        "SELECT bytes FROM fb_log_wal WHERE log = $1 AND wal_offset = $2",
                                        {Text(log_), Int(*known)}));
      if (r.size() == 1 && r.text(0, 0) == bytes && end == *known + bytes.size()) {
        at = *known;
        return mark(c);
      }
      return tl::make_unexpected(DataLoss("log storage: the write-ahead log ends at " + std::to_string(end) +
                                          ", not at " + std::to_string(*known) + " as this writer knew"));
    }
    at = end;
    FB_RETURN_IF_ERROR(c.Exec("appending to the write-ahead log",
                                               "INSERT INTO fb_log_wal(log, wal_offset, bytes, epoch) VALUES ($1, $2, $3, $4)",
                                               {Text(log_), Int(end), Bytes(bytes), Int(epoch)}));
    return mark(c);
  }));
  if (!marks.empty()) {
    std::lock_guard bind_lock(bind_mu_);
    for (const auto& [id, index] : marks) bound_.erase(index);
  }
  std::lock_guard lock(mu_);
  wal_end_ = at + bytes.size();
  return Ok();
}

Result<uint64_t> PgLogStorage::SequencedSize() {
  uint64_t size = 0;
  FB_RETURN_IF_ERROR(Transaction("reading the sequenced size", [&](pg::Connection& c) -> Status {
    size = 0;
    FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading the sequenced size",
                                      "SELECT substring(bytes FROM 1 FOR 16) FROM fb_log_wal WHERE log = $1 "
                                      "ORDER BY wal_offset DESC LIMIT 1",
                                      {Text(log_)}));
    if (r.size() == 0) return Ok();
    std::string h = r.text(0, 0);
    if (h.size() != 16 || h.substr(0, 4) != "FBW1") {
      return tl::make_unexpected(DataLoss("log storage: the last write-ahead batch has no header"));
    }
    size = GetBe64(h.data() + 4) + (GetBe64(h.data() + 8) & 0xffffffffu);
    return Ok();
  }));
  return size;
}

void PgLogStorage::ClearBindings() {
  std::lock_guard bind_lock(bind_mu_);
  bound_.clear();
}

Result<uint64_t> PgLogStorage::QueueEntry(std::string_view entry) {
  FB_ASSIGN_OR_RETURN(std::string random, RandomBytes(8));
  // Positive INT8.
  uint64_t id = GetBe64(random.data()) >> 1;
  FB_RETURN_IF_ERROR(Transaction("forwarding an entry", [&](pg::Connection& c) -> Status {
    return c.Exec("forwarding an entry",
                  "INSERT INTO fb_log_queue(log, id, entry, created) VALUES ($1, $2, $3, clock_timestamp()) "
                  "ON CONFLICT (log, id) DO NOTHING",
                  {Text(log_), Int(id), Bytes(entry)});
  }));
  return id;
}

Result<std::vector<PgLogStorage::Queued>> PgLogStorage::UnsequencedEntries(size_t limit) {
  std::vector<Queued> out;
  FB_RETURN_IF_ERROR(Transaction("reading forwarded entries", [&](pg::Connection& c) -> Status {
    out.clear();
    FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading forwarded entries",
                                      "SELECT id, entry FROM fb_log_queue WHERE log = $1 AND log_index IS NULL "
                                      "ORDER BY created, id LIMIT $2",
                                      {Text(log_), Int(limit)}));
    for (int i = 0; i < r.size(); ++i) {
      FB_ASSIGN_OR_RETURN(uint64_t id, r.uint64(i, 0));
      out.push_back({id, r.text(i, 1)});
    }
    return Ok();
  }));
  return out;
}

Result<std::vector<std::pair<uint64_t, uint64_t>>> PgLogStorage::SequencedOf(std::span<const uint64_t> ids) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (ids.empty()) return out;
  FB_RETURN_IF_ERROR(Transaction("reading forwarded entries", [&](pg::Connection& c) -> Status {
    out.clear();
    FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading forwarded entries",
                                      "SELECT id, log_index FROM fb_log_queue WHERE log = $1 "
                                      "AND id = ANY($2::INT8[]) AND log_index IS NOT NULL",
                                      {Text(log_), Text(pg::Int8Array(ids))}));
    for (int i = 0; i < r.size(); ++i) {
      FB_ASSIGN_OR_RETURN(uint64_t id, r.uint64(i, 0));
      FB_ASSIGN_OR_RETURN(uint64_t index, r.uint64(i, 1));
      out.emplace_back(id, index);
    }
    return Ok();
  }));
  return out;
}

Status PgLogStorage::DeleteQueued(std::span<const uint64_t> ids) {
  if (ids.empty()) return Ok();
  return Transaction("deleting forwarded entries", [&](pg::Connection& c) -> Status {
    return c.Exec("deleting forwarded entries",
                                   "DELETE FROM fb_log_queue WHERE log = $1 AND id = ANY($2::INT8[])",
                                   {Text(log_), Text(pg::Int8Array(ids))});
  });
}

Result<uint64_t> PgLogStorage::WalSize() {
  uint64_t end = 0;
  FB_RETURN_IF_ERROR(Transaction("reading the write-ahead log's size", [&](pg::Connection& c) -> Status {
    FB_ASSIGN_OR_RETURN(end, WalEnd(c, log_));
    return Ok();
  }));
  return end;
}

Result<std::string> PgLogStorage::ReadWal(uint64_t offset, size_t length) {
  std::string out;
  if (length == 0) return out;
  FB_RETURN_IF_ERROR(Transaction("reading the write-ahead log", [&](pg::Connection& c) -> Status {
    out.clear();
    // The row holding `offset` and every later one that starts before the end.
    FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading the write-ahead log",
                                      "SELECT wal_offset, bytes FROM fb_log_wal WHERE log = $1 "
                                      "AND wal_offset >= COALESCE((SELECT max(wal_offset) FROM fb_log_wal "
                                      "WHERE log = $1 AND wal_offset <= $2), 0) AND wal_offset < $3 "
                                      "ORDER BY wal_offset",
                                      {Text(log_), Int(offset), Int(offset + length)}));
    uint64_t pos = offset;
    for (int i = 0; i < r.size() && out.size() < length; ++i) {
      FB_ASSIGN_OR_RETURN(uint64_t start, r.uint64(i, 0));
      std::string b = r.text(i, 1);
      if (start > pos) break;  // a gap: the log ends for this reader here
      if (start + b.size() <= pos) continue;
      size_t from = size_t(pos - start);
      size_t n = std::min(b.size() - from, length - out.size());
      out.append(b, from, n);
      pos += n;
    }
    return Ok();
  }));
  return out;
}

Status PgLogStorage::TruncateWal(uint64_t length) {
  std::lock_guard wal_lock(wal_mu_);
  FB_RETURN_IF_ERROR(Fenced("cutting the write-ahead log", [&](pg::Connection& c) -> Status {
    FB_RETURN_IF_ERROR(c.Exec("cutting the write-ahead log",
                                               "DELETE FROM fb_log_wal WHERE log = $1 AND wal_offset >= $2",
                                               {Text(log_), Int(length)}));
    // A row that straddles the cut keeps its head (batches never do; the
    // contract is byte-wise).
    return c.Exec("cutting the write-ahead log",
                                   "UPDATE fb_log_wal SET bytes = substring(bytes FROM 1 FOR ($2 - wal_offset)::INT4) "
                                   "WHERE log = $1 AND wal_offset < $2 AND wal_offset + length(bytes) > $2",
                                   {Text(log_), Int(length)});
  }));
  std::lock_guard lock(mu_);
  wal_end_.reset();
  return Ok();
}

Result<std::string> PgLogStorage::ReadFile(const std::string& path) {
  std::optional<std::string> data;
  FB_RETURN_IF_ERROR(Transaction("reading " + path, [&](pg::Connection& c) -> Status {
    data.reset();
    FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading " + path, "SELECT data FROM fb_log_files WHERE log = $1 AND path = $2",
                                      {Text(log_), Text(path)}));
    if (r.size() == 1) data = r.text(0, 0);
    return Ok();
  }));
  if (!data) return tl::make_unexpected(NotFound("no such file in the log: " + path));
  return std::move(*data);
}

Status PgLogStorage::WriteFiles(std::span<const TileFile> files) {
  if (files.empty()) return Ok();
  uint64_t epoch = this->epoch();
  return Fenced("writing tiles", [&](pg::Connection& c) -> Status {
    // One statement for the batch: ($1 = log, $2 = epoch, then path, data pairs).
    std::string sql = "INSERT INTO fb_log_files(log, path, data, epoch) VALUES ";
    std::vector<pg::Param> args = {Text(log_), Int(epoch)};
    for (size_t i = 0; i < files.size(); ++i) {
      if (i > 0) sql += ", ";
      sql += "($1, $" + std::to_string(args.size() + 1) + ", $" + std::to_string(args.size() + 2) + ", $2)";
      args.push_back(Text(files[i].path));
      args.push_back(Bytes(files[i].data));
    }
    sql += " ON CONFLICT (log, path) DO UPDATE SET data = excluded.data, epoch = excluded.epoch";
    return c.Exec("writing tiles", sql.c_str(), args);
  });
}

Status PgLogStorage::WriteCheckpoint(std::string_view signed_checkpoint) {
  uint64_t epoch = this->epoch();
  return Fenced("writing the checkpoint", [&](pg::Connection& c) -> Status {
    return c.Exec("writing the checkpoint",
                                   "INSERT INTO fb_log_files(log, path, data, epoch) VALUES ($1, 'checkpoint', $2, $3) "
                                   "ON CONFLICT (log, path) DO UPDATE SET data = excluded.data, epoch = excluded.epoch",
                                   {Text(log_), Bytes(signed_checkpoint), Int(epoch)});
  });
}

}  // namespace firebreak::ledger
