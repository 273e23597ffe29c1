#include "ledger/pg_storage.h"

#include <libpq-fe.h>

#include "base/crypto.h"

#include <chrono>
#include <thread>
#include <utility>

namespace firebreak::ledger {
namespace pg_internal {
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
constexpr int64_t kSchemaVersion = int64_t(std::size(kMigrations));
constexpr int kMaxAttempts = 12;

std::string UrlPassword(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view userinfo = authority.substr(0, at);
  size_t colon = userinfo.find(':');
  return colon == std::string_view::npos ? std::string() : std::string(userinfo.substr(colon + 1));
}

// One line, without the password.
std::string Clean(std::string m, const std::string& password) {
  if (!password.empty()) {
    for (size_t at; (at = m.find(password)) != std::string::npos;) m.replace(at, password.size(), "***");
  }
  for (char& c : m) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  while (!m.empty() && m.back() == ' ') m.pop_back();
  return m;
}

Result<std::string> Where(const std::string& url, const std::string& password) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    std::string m = err ? Clean(err, password) : "out of memory";
    if (err) PQfreemem(err);
    return tl::make_unexpected(InvalidArgument("the PostgreSQL log URL is not valid: " + m));
  }
  std::string host, port, db, user;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    std::string_view k = o->keyword;
    std::string v = o->val ? o->val : "";
    if (k == "host" || (k == "hostaddr" && host.empty())) host = v;
    if (k == "port") port = v;
    if (k == "dbname") db = v;
    if (k == "user") user = v;
  }
  PQconninfoFree(opts);
  if (host.empty()) host = "the default socket";
  if (!port.empty()) host += " port " + port;
  if (db.empty()) db = user.empty() ? "(the user's)" : user;
  return "(host " + host + ", database " + db + ")";
}

uint64_t GetBe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

// A query argument: text, or raw bytes (BYTEA, sent in binary).
struct Arg {
  std::string value;
  bool binary = false;
};
Arg Text(std::string s) { return {std::move(s), false}; }
Arg Bytes(std::string_view s) { return {std::string(s), true}; }
Arg Int(uint64_t v) { return {std::to_string(v), false}; }

// A result in binary format, cleared on destruction.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r) {}
  Rows(Rows&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  Rows& operator=(Rows&&) = delete;
  ~Rows() {
    if (r_) PQclear(r_);
  }
  PGresult* get() const { return r_; }
  int count() const { return PQntuples(r_); }
  bool null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string bytes(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), size_t(PQgetlength(r_, row, col)));
  }
  // An INT8 column (binary: 8 bytes, big-endian).
  Result<uint64_t> u64(int row, int col) const {
    if (PQgetlength(r_, row, col) != 8) return tl::make_unexpected(DataLoss("log storage: a number column is not INT8"));
    return GetBe64(PQgetvalue(r_, row, col));
  }

 private:
  PGresult* r_;
};

class Connection {
 public:
  ~Connection() {
    if (conn_) PQfinish(conn_);
  }

  static Result<std::unique_ptr<Connection>> Open(const std::string& url, const std::string& where,
                                                  const std::string& password) {
    auto c = std::unique_ptr<Connection>(new Connection);
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"5", "firebreak-log", url.c_str(), nullptr};
    c->conn_ = PQconnectdbParams(keys, values, 1);
    if (!c->conn_) return tl::make_unexpected(Unavailable("opening the PostgreSQL log " + where + ": out of memory"));
    if (PQstatus(c->conn_) != CONNECTION_OK) {
      return tl::make_unexpected(
          Unavailable("opening the PostgreSQL log " + where + ": " + Clean(PQerrorMessage(c->conn_), password)));
    }
    PQsetNoticeProcessor(c->conn_, [](void*, const char*) {}, nullptr);
    // A node paused inside a transaction (SIGSTOP, a stalled VM) holds the
    // lease row's lock; the server ends its session after this long, so a
    // takeover waits at most this much beyond the lease's expiry.
    FB_RETURN_IF_ERROR(c->Script("setting the session's limits", "SET idle_in_transaction_session_timeout = 1000"));
    return c;
  }

  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  bool retryable() const { return retryable_; }

  Result<Rows> Run(const std::string& what, const char* sql, const std::vector<Arg>& args = {}) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const Arg& a : args) {
      values.push_back(a.value.data());
      lengths.push_back(int(a.value.size()));
      formats.push_back(a.binary ? 1 : 0);
    }
    return Check(what, Rows(PQexecParams(conn_, sql, int(args.size()), nullptr, values.data(), lengths.data(),
                                         formats.data(), /*resultFormat=*/1)));
  }

  Status Script(const std::string& what, const char* sql) {
    FB_RETURN_IF_ERROR(Check(what, Rows(PQexec(conn_, sql))));
    return Ok();
  }

 private:
  Connection() = default;

  Result<Rows> Check(const std::string& what, Rows r) {
    retryable_ = false;
    ExecStatusType st = r.get() ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    const char* code = r.get() ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    std::string state = code ? code : "";
    // The primary message only: a detail may quote a row.
    const char* primary = r.get() ? PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string m = "log storage: " + what + ": " + (primary ? std::string(primary) : Clean(PQerrorMessage(conn_), ""));
    if (!state.empty()) m += " (SQLSTATE " + state + ")";
    if (state == "40001" || state == "40P01") {
      retryable_ = true;
      return tl::make_unexpected(Unavailable(m));
    }
    if (state == "23505" || state == "42P07") return tl::make_unexpected(AlreadyExists(m));
    if (broken() || state.empty() || state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 ||
        state.rfind("53", 0) == 0) {
      return tl::make_unexpected(Unavailable(m));
    }
    return tl::make_unexpected(IoError(m));
  }

  PGconn* conn_ = nullptr;
  bool retryable_ = false;
};

namespace {

template <class T>
Status Drop(const Result<T>& r) {
  if (!r) return tl::make_unexpected(r.error());
  return Ok();
}

Status Migrate(Connection& c) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1 << attempt, 200)));
    FB_RETURN_IF_ERROR(c.Script("beginning a migration", "BEGIN ISOLATION LEVEL SERIALIZABLE"));
    auto step = [&]() -> Result<bool> {
      FB_ASSIGN_OR_RETURN(Rows t, c.Run("reading the log schema version",
                                        "SELECT count(*)::INT8 FROM information_schema.tables "
                                        "WHERE table_schema = current_schema() AND table_name = 'fb_log_schema_version'"));
      FB_ASSIGN_OR_RETURN(uint64_t has, t.u64(0, 0));
      if (has == 0) {
        FB_RETURN_IF_ERROR(c.Script("creating the log schema version",
                                    "CREATE TABLE fb_log_schema_version(one INT8 PRIMARY KEY CHECK (one = 1), "
                                    "version INT8 NOT NULL); INSERT INTO fb_log_schema_version VALUES (1, 0);"));
      }
      FB_ASSIGN_OR_RETURN(Rows v, c.Run("reading the log schema version", "SELECT version FROM fb_log_schema_version"));
      if (v.count() != 1) return tl::make_unexpected(DataLoss("log storage: the schema version row is missing"));
      FB_ASSIGN_OR_RETURN(uint64_t version, v.u64(0, 0));
      if (version > uint64_t(kSchemaVersion)) {
        return tl::make_unexpected(FailedPrecondition("log schema version " + std::to_string(version) +
                                                      " is newer than this build's " + std::to_string(kSchemaVersion)));
      }
      if (version == uint64_t(kSchemaVersion)) return false;
      FB_RETURN_IF_ERROR(c.Script("migrating the log tables", kMigrations[version]));
      FB_RETURN_IF_ERROR(Drop(c.Run("recording the log schema version", "UPDATE fb_log_schema_version SET version = $1",
                                    {Int(version + 1)})));
      return true;
    };
    Result<bool> more = step();
    bool retry = c.retryable();
    Status end = more ? Status(Ok()) : Status(tl::make_unexpected(more.error()));
    if (more) {
      auto committed = c.Run("committing a migration", "COMMIT");
      if (!committed) {
        end = tl::make_unexpected(committed.error());
        retry = c.retryable();
      }
    }
    if (!end) {
      (void)c.Run("rolling back", "ROLLBACK");
      // Another node created the tables at the same instant.
      if (retry || end.error().code() == ErrorCode::kAlreadyExists) continue;
      return end;
    }
    if (!*more) return Ok();
    attempt = -1;
  }
  return tl::make_unexpected(Unavailable("log storage: migrating met concurrent migrations too often"));
}

std::string Interval(std::chrono::milliseconds term) { return std::to_string(term.count()) + " milliseconds"; }

}  // namespace
}  // namespace pg_internal

using pg_internal::Arg;
using pg_internal::Bytes;
using pg_internal::Connection;
using pg_internal::Int;
using pg_internal::Rows;
using pg_internal::Text;

PgLogStorage::PgLogStorage(std::string url, std::string log, std::string where, std::string password)
    : url_(std::move(url)), log_(std::move(log)), where_(std::move(where)), password_(std::move(password)) {}

PgLogStorage::~PgLogStorage() = default;

Result<std::unique_ptr<PgLogStorage>> PgLogStorage::Open(const std::string& url, const std::string& log) {
  if (log.empty()) return tl::make_unexpected(InvalidArgument("the log's name in the database is empty"));
  std::string password = pg_internal::UrlPassword(url);
  FB_ASSIGN_OR_RETURN(std::string where, pg_internal::Where(url, password));
  FB_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(url, where, password));
  Status st = pg_internal::Migrate(*conn);
  if (!st) return tl::make_unexpected(st.error().WithContext("PostgreSQL log " + where));
  std::unique_ptr<PgLogStorage> s(new PgLogStorage(url, log, std::move(where), std::move(password)));
  s->pool_.push_back(std::move(conn));
  return s;
}

Result<std::unique_ptr<Connection>> PgLogStorage::Borrow() {
  {
    std::lock_guard lock(mu_);
    if (!pool_.empty()) {
      std::unique_ptr<Connection> c = std::move(pool_.back());
      pool_.pop_back();
      return c;
    }
  }
  return Connection::Open(url_, where_, password_);
}

void PgLogStorage::GiveBack(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  if (conn->broken()) {
    pool_.clear();  // the server went away: the idle ones went with it
    return;
  }
  if (pool_.size() < 8) pool_.push_back(std::move(conn));
}

Status PgLogStorage::Transaction(const std::string& what, const Body& body) {
  Status st = Ok();
  for (int attempt = 0; attempt < pg_internal::kMaxAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1 << attempt, 200)));
    auto conn = Borrow();
    if (!conn) {
      st = tl::make_unexpected(conn.error());
      continue;  // the server may be restarting
    }
    bool retry = false;
    st = pg_internal::Drop((*conn)->Run("beginning a transaction", "BEGIN ISOLATION LEVEL SERIALIZABLE"));
    if (st) {
      st = body(**conn);
      retry = (*conn)->retryable() || (*conn)->broken();
      if (st) {
        st = pg_internal::Drop((*conn)->Run("committing " + what, "COMMIT"));
        // A lost COMMIT is ambiguous; every write here is idempotent, so
        // running it again is safe.
        if (!st) retry = (*conn)->retryable() || (*conn)->broken();
      }
      if (!st) (void)(*conn)->Run("rolling back", "ROLLBACK");
    } else {
      retry = (*conn)->retryable() || (*conn)->broken();
    }
    GiveBack(std::move(*conn));
    if (st || !retry) return st;
  }
  return tl::make_unexpected(st.error().WithContext(what + " failed " + std::to_string(pg_internal::kMaxAttempts) +
                                                    " times"));
}

Status PgLogStorage::Fenced(const std::string& what, const Body& body) {
  uint64_t epoch = this->epoch();
  if (epoch == 0) {
    return tl::make_unexpected(FailedPrecondition("log storage: " + what + " refused: this node holds no lease"));
  }
  return Transaction(what, [&](Connection& c) -> Status {
    FB_ASSIGN_OR_RETURN(Rows r, c.Run("checking the lease",
                                      "SELECT epoch FROM fb_log_lease WHERE log = $1 AND epoch = $2 "
                                      "AND expires_at > clock_timestamp() FOR SHARE",
                                      {Text(log_), Int(epoch)}));
    if (r.count() != 1) {
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
  FB_RETURN_IF_ERROR(Transaction("taking the lease", [&](Connection& c) -> Status {
    got.reset();
    FB_ASSIGN_OR_RETURN(
        Rows r, c.Run("taking the lease",
                      "INSERT INTO fb_log_lease(log, holder, epoch, expires_at) "
                      "VALUES ($1, $2, 1, clock_timestamp() + $3::INTERVAL) "
                      "ON CONFLICT (log) DO UPDATE SET holder = excluded.holder, "
                      "epoch = fb_log_lease.epoch + 1, expires_at = excluded.expires_at "
                      "WHERE fb_log_lease.expires_at <= clock_timestamp() RETURNING epoch",
                      {Text(log_), Text(holder), Text(pg_internal::Interval(term))}));
    if (r.count() == 1) {
      FB_ASSIGN_OR_RETURN(uint64_t e, r.u64(0, 0));
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
  FB_RETURN_IF_ERROR(Transaction("renewing the lease", [&](Connection& c) -> Status {
    FB_ASSIGN_OR_RETURN(Rows r, c.Run("renewing the lease",
                                      "UPDATE fb_log_lease SET expires_at = clock_timestamp() + $3::INTERVAL "
                                      "WHERE log = $1 AND epoch = $2 AND expires_at > clock_timestamp() "
                                      "RETURNING epoch",
                                      {Text(log_), Int(epoch), Text(pg_internal::Interval(term))}));
    renewed = r.count() == 1;
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
  return Transaction("releasing the lease", [&](Connection& c) -> Status {
    return pg_internal::Drop(c.Run("releasing the lease",
                                   "UPDATE fb_log_lease SET expires_at = clock_timestamp() "
                                   "WHERE log = $1 AND epoch = $2 AND expires_at > clock_timestamp()",
                                   {Text(log_), Int(epoch)}));
  });
}

Result<std::optional<PgLogStorage::LeaseInfo>> PgLogStorage::CurrentLease() {
  std::optional<LeaseInfo> out;
  FB_RETURN_IF_ERROR(Transaction("reading the lease", [&](Connection& c) -> Status {
    out.reset();
    FB_ASSIGN_OR_RETURN(Rows r, c.Run("reading the lease",
                                      "SELECT holder, epoch, (CASE WHEN expires_at > clock_timestamp() THEN 1 ELSE 0 END)::INT8 "
                                      "FROM fb_log_lease WHERE log = $1",
                                      {Text(log_)}));
    if (r.count() == 1) {
      LeaseInfo info;
      info.holder = r.bytes(0, 0);
      FB_ASSIGN_OR_RETURN(info.epoch, r.u64(0, 1));
      FB_ASSIGN_OR_RETURN(uint64_t live, r.u64(0, 2));
      info.live = live != 0;
      out = std::move(info);
    }
    return Ok();
  }));
  return out;
}

namespace {

// The end of the write-ahead log: the last row's offset plus its length.
Result<uint64_t> WalEnd(Connection& c, const std::string& log) {
  FB_ASSIGN_OR_RETURN(Rows r, c.Run("reading the write-ahead log's size",
                                    "SELECT wal_offset + length(bytes)::INT8 FROM fb_log_wal WHERE log = $1 "
                                    "ORDER BY wal_offset DESC LIMIT 1",
                                    {Text(log)}));
  if (r.count() == 0) return uint64_t{0};
  return r.u64(0, 0);
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
    uint64_t first = pg_internal::GetBe64(bytes.data() + 4);
    uint64_t count = pg_internal::GetBe64(bytes.data() + 8) & 0xffffffffu;
    std::lock_guard bind_lock(bind_mu_);
    for (auto it = bound_.lower_bound(first); it != bound_.end() && it->first < first + count; ++it) {
      marks.emplace_back(it->second, it->first);
    }
  }
  uint64_t at = 0;
  auto mark = [&](Connection& c) -> Status {
    if (marks.empty()) return Ok();
    std::string sql = "UPDATE fb_log_queue AS q SET log_index = v.idx FROM (VALUES ";
    std::vector<Arg> args = {Text(log_)};
    for (size_t i = 0; i < marks.size(); ++i) {
      if (i > 0) sql += ", ";
      sql += "($" + std::to_string(args.size() + 1) + "::INT8, $" + std::to_string(args.size() + 2) + "::INT8)";
      args.push_back(Int(marks[i].first));
      args.push_back(Int(marks[i].second));
    }
    sql += ") AS v(id, idx) WHERE q.log = $1 AND q.id = v.id";
    return pg_internal::Drop(c.Run("marking forwarded entries sequenced", sql.c_str(), args));
  };
  FB_RETURN_IF_ERROR(Fenced("appending to the write-ahead log", [&](Connection& c) -> Status {
    FB_ASSIGN_OR_RETURN(uint64_t end, WalEnd(c, log_));
    if (known && end != *known) {
      // Only a retry of a COMMIT whose answer was lost can have moved it:
      // then the row at `known` is ours, byte for byte.
      FB_ASSIGN_OR_RETURN(Rows r, c.Run("reading the write-ahead log",
                                        "SELECT bytes FROM fb_log_wal WHERE log = $1 AND wal_offset = $2",
                                        {Text(log_), Int(*known)}));
      if (r.count() == 1 && r.bytes(0, 0) == bytes && end == *known + bytes.size()) {
        at = *known;
        return mark(c);
      }
      return tl::make_unexpected(DataLoss("log storage: the write-ahead log ends at " + std::to_string(end) +
                                          ", not at " + std::to_string(*known) + " as this writer knew"));
    }
    at = end;
    FB_RETURN_IF_ERROR(pg_internal::Drop(c.Run("appending to the write-ahead log",
                                               "INSERT INTO fb_log_wal(log, wal_offset, bytes, epoch) VALUES ($1, $2, $3, $4)",
                                               {Text(log_), Int(end), Bytes(bytes), Int(epoch)})));
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
  FB_RETURN_IF_ERROR(Transaction("reading the sequenced size", [&](Connection& c) -> Status {
    size = 0;
    FB_ASSIGN_OR_RETURN(Rows r, c.Run("reading the sequenced size",
                                      "SELECT substring(bytes FROM 1 FOR 16) FROM fb_log_wal WHERE log = $1 "
                                      "ORDER BY wal_offset DESC LIMIT 1",
                                      {Text(log_)}));
    if (r.count() == 0) return Ok();
    std::string h = r.bytes(0, 0);
    if (h.size() != 16 || h.substr(0, 4) != "FBW1") {
      return tl::make_unexpected(DataLoss("log storage: the last write-ahead batch has no header"));
    }
    size = pg_internal::GetBe64(h.data() + 4) + (pg_internal::GetBe64(h.data() + 8) & 0xffffffffu);
    return Ok();
  }));
  return size;
}

void PgLogStorage::ClearBindings() {
  std::lock_guard bind_lock(bind_mu_);
  bound_.clear();
}

namespace {

std::string IdArray(std::span<const uint64_t> ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "}";
}

}  // namespace

Result<uint64_t> PgLogStorage::QueueEntry(std::string_view entry) {
  FB_ASSIGN_OR_RETURN(std::string random, RandomBytes(8));
  // Positive INT8.
  uint64_t id = pg_internal::GetBe64(random.data()) >> 1;
  FB_RETURN_IF_ERROR(Transaction("forwarding an entry", [&](Connection& c) -> Status {
    auto r = c.Run("forwarding an entry",
                   "INSERT INTO fb_log_queue(log, id, entry, created) VALUES ($1, $2, $3, clock_timestamp()) "
                   "ON CONFLICT (log, id) DO NOTHING",
                   {Text(log_), Int(id), Bytes(entry)});
    return pg_internal::Drop(r);
  }));
  return id;
}

Result<std::vector<PgLogStorage::Queued>> PgLogStorage::UnsequencedEntries(size_t limit) {
  std::vector<Queued> out;
  FB_RETURN_IF_ERROR(Transaction("reading forwarded entries", [&](Connection& c) -> Status {
    out.clear();
    FB_ASSIGN_OR_RETURN(Rows r, c.Run("reading forwarded entries",
                                      "SELECT id, entry FROM fb_log_queue WHERE log = $1 AND log_index IS NULL "
                                      "ORDER BY created, id LIMIT $2",
                                      {Text(log_), Int(limit)}));
    for (int i = 0; i < r.count(); ++i) {
      FB_ASSIGN_OR_RETURN(uint64_t id, r.u64(i, 0));
      out.push_back({id, r.bytes(i, 1)});
    }
    return Ok();
  }));
  return out;
}

Result<std::vector<std::pair<uint64_t, uint64_t>>> PgLogStorage::SequencedOf(std::span<const uint64_t> ids) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (ids.empty()) return out;
  FB_RETURN_IF_ERROR(Transaction("reading forwarded entries", [&](Connection& c) -> Status {
    out.clear();
    FB_ASSIGN_OR_RETURN(Rows r, c.Run("reading forwarded entries",
                                      "SELECT id, log_index FROM fb_log_queue WHERE log = $1 "
                                      "AND id = ANY($2::INT8[]) AND log_index IS NOT NULL",
                                      {Text(log_), Text(IdArray(ids))}));
    for (int i = 0; i < r.count(); ++i) {
      FB_ASSIGN_OR_RETURN(uint64_t id, r.u64(i, 0));
      FB_ASSIGN_OR_RETURN(uint64_t index, r.u64(i, 1));
      out.emplace_back(id, index);
    }
    return Ok();
  }));
  return out;
}

Status PgLogStorage::DeleteQueued(std::span<const uint64_t> ids) {
  if (ids.empty()) return Ok();
  return Transaction("deleting forwarded entries", [&](Connection& c) -> Status {
    return pg_internal::Drop(c.Run("deleting forwarded entries",
                                   "DELETE FROM fb_log_queue WHERE log = $1 AND id = ANY($2::INT8[])",
                                   {Text(log_), Text(IdArray(ids))}));
  });
}

Result<uint64_t> PgLogStorage::WalSize() {
  uint64_t end = 0;
  FB_RETURN_IF_ERROR(Transaction("reading the write-ahead log's size", [&](Connection& c) -> Status {
    FB_ASSIGN_OR_RETURN(end, WalEnd(c, log_));
    return Ok();
  }));
  return end;
}

Result<std::string> PgLogStorage::ReadWal(uint64_t offset, size_t length) {
  std::string out;
  if (length == 0) return out;
  FB_RETURN_IF_ERROR(Transaction("reading the write-ahead log", [&](Connection& c) -> Status {
    out.clear();
    // The row holding `offset` and every later one that starts before the end.
    FB_ASSIGN_OR_RETURN(Rows r, c.Run("reading the write-ahead log",
                                      "SELECT wal_offset, bytes FROM fb_log_wal WHERE log = $1 "
                                      "AND wal_offset >= COALESCE((SELECT max(wal_offset) FROM fb_log_wal "
                                      "WHERE log = $1 AND wal_offset <= $2), 0) AND wal_offset < $3 "
                                      "ORDER BY wal_offset",
                                      {Text(log_), Int(offset), Int(offset + length)}));
    uint64_t pos = offset;
    for (int i = 0; i < r.count() && out.size() < length; ++i) {
      FB_ASSIGN_OR_RETURN(uint64_t start, r.u64(i, 0));
      std::string b = r.bytes(i, 1);
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
  FB_RETURN_IF_ERROR(Fenced("cutting the write-ahead log", [&](Connection& c) -> Status {
    FB_RETURN_IF_ERROR(pg_internal::Drop(c.Run("cutting the write-ahead log",
                                               "DELETE FROM fb_log_wal WHERE log = $1 AND wal_offset >= $2",
                                               {Text(log_), Int(length)})));
    // A row that straddles the cut keeps its head (batches never do; the
    // contract is byte-wise).
    return pg_internal::Drop(c.Run("cutting the write-ahead log",
                                   "UPDATE fb_log_wal SET bytes = substring(bytes FROM 1 FOR ($2 - wal_offset)::INT4) "
                                   "WHERE log = $1 AND wal_offset < $2 AND wal_offset + length(bytes) > $2",
                                   {Text(log_), Int(length)}));
  }));
  std::lock_guard lock(mu_);
  wal_end_.reset();
  return Ok();
}

Result<std::string> PgLogStorage::ReadFile(const std::string& path) {
  std::optional<std::string> data;
  FB_RETURN_IF_ERROR(Transaction("reading " + path, [&](Connection& c) -> Status {
    data.reset();
    FB_ASSIGN_OR_RETURN(Rows r, c.Run("reading " + path, "SELECT data FROM fb_log_files WHERE log = $1 AND path = $2",
                                      {Text(log_), Text(path)}));
    if (r.count() == 1) data = r.bytes(0, 0);
    return Ok();
  }));
  if (!data) return tl::make_unexpected(NotFound("no such file in the log: " + path));
  return std::move(*data);
}

Status PgLogStorage::WriteFiles(std::span<const TileFile> files) {
  if (files.empty()) return Ok();
  uint64_t epoch = this->epoch();
  return Fenced("writing tiles", [&](Connection& c) -> Status {
    // One statement for the batch: ($1 = log, $2 = epoch, then path, data pairs).
    std::string sql = "INSERT INTO fb_log_files(log, path, data, epoch) VALUES ";
    std::vector<Arg> args = {Text(log_), Int(epoch)};
    for (size_t i = 0; i < files.size(); ++i) {
      if (i > 0) sql += ", ";
      sql += "($1, $" + std::to_string(args.size() + 1) + ", $" + std::to_string(args.size() + 2) + ", $2)";
      args.push_back(Text(files[i].path));
      args.push_back(Bytes(files[i].data));
    }
    sql += " ON CONFLICT (log, path) DO UPDATE SET data = excluded.data, epoch = excluded.epoch";
    return pg_internal::Drop(c.Run("writing tiles", sql.c_str(), args));
  });
}

Status PgLogStorage::WriteCheckpoint(std::string_view signed_checkpoint) {
  uint64_t epoch = this->epoch();
  return Fenced("writing the checkpoint", [&](Connection& c) -> Status {
    return pg_internal::Drop(c.Run("writing the checkpoint",
                                   "INSERT INTO fb_log_files(log, path, data, epoch) VALUES ($1, 'checkpoint', $2, $3) "
                                   "ON CONFLICT (log, path) DO UPDATE SET data = excluded.data, epoch = excluded.epoch",
                                   {Text(log_), Bytes(signed_checkpoint), Int(epoch)}));
  });
}

}  // namespace firebreak::ledger
