// Front door of `pg`: the one thin libpq layer of Firebreak, shared by the
// store on PostgreSQL (store/pg_store.cc) and the log on PostgreSQL
// (ledger/pg_storage.cc). A connection opened from a URL, a result that
// clears itself, parameterised statements, SQLSTATE classification, a pool
// that empties when the server goes away, versioned migrations and a
// SERIALIZABLE transaction runner with bounded retries. Nothing here knows
// about stores or logs: what each backend does on top (the log's fencing and
// session limits, the store's thread-pinned transactions) stays there.
//
// Error model: `Error`s from base/. Every message names host and database
// ("(host H, database D)"), never the URL's password; a statement's failure
// carries the server's primary message only (its detail may quote a row)
// and its SQLSTATE. A serialisation failure, a lost connection or an
// unreachable server is kUnavailable.
// Thread model: the free functions are thread-safe; a Connection is
// thread-compatible (one thread at a time); a Pool is thread-safe.
//
//   FB_ASSIGN_OR_RETURN(pg::Endpoint at, pg::Endpoint::Parse(url, "the PostgreSQL store"));
//   pg::Pool pool([&] { return pg::Connection::Open(at, {}); });
//   pg::TransactionOptions adding;
//   adding.what = "adding a row";
//   FB_RETURN_IF_ERROR(pg::RunTransaction(pool, adding, [&](pg::Connection& c) {
//     return c.Exec("adding a row", "INSERT INTO t(a) VALUES ($1)", {pg::Int(7)});
//   }));
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

// libpq's handles (PGconn, PGresult), without its header.
struct pg_conn;
struct pg_result;

namespace firebreak::pg {

// ---- Pure parts: URLs, messages, SQLSTATEs ----

// The password of a postgresql:// URL (user:password@host), empty if none.
std::string UrlPassword(std::string_view url);

// `message` on one line (newlines and tabs become spaces, trailing spaces
// go), with every occurrence of `password` (unless empty) replaced by ***.
std::string Scrub(std::string message, std::string_view password);

// "(host H, database D)" from a libpq URL or key=value string, for
// messages: host (or hostaddr; "the default socket" if none) with its port,
// and the database (the user's name when none is given, as libpq does).
// kInvalidArgument, naming `name`, when libpq cannot parse it.
Result<std::string> Describe(const std::string& url, std::string_view name);

// Where to connect and how to name it in messages.
struct Endpoint {
  std::string url;
  std::string name;      // "the PostgreSQL store"
  std::string where;     // "(host H, database D)"
  std::string password;  // scrubbed from every message

  // kInvalidArgument ("<name> URL is not valid: …") when libpq cannot parse `url`.
  static Result<Endpoint> Parse(const std::string& url, std::string_view name);
};

// SQLSTATE 40001 (serialization_failure) or 40P01 (deadlock_detected):
// running the whole transaction again can cure it.
bool IsSerializationFailure(std::string_view sqlstate);
// No answer at all (""), class 08 (connection exception) or 57P (the server
// shut down or is starting): the connection is gone or never was.
bool IsLostConnection(std::string_view sqlstate);
// The code a failed statement's error gets: a serialisation failure, a lost
// connection (or `broken`) or class 53 (out of resources) kUnavailable;
// 23505 (unique) and 42P07 (table exists) kAlreadyExists; any other
// integrity violation (class 23) kInvalidArgument; XX001/XX002 (corrupt
// data or index) kDataLoss; anything else kIo.
ErrorCode ErrorCodeFor(std::string_view sqlstate, bool broken);

// ---- Statements ----

// A statement's parameter: text, raw bytes (BYTEA, sent in binary) or SQL
// NULL (the default). A std::string converts to text.
struct Param {
  Param() = default;
  Param(std::string text) : value(std::move(text)) {}  // NOLINT: implicit, for brace lists
  Param(const char* text) : value(std::string(text)) {}  // NOLINT
  std::optional<std::string> value;
  bool binary = false;
};
inline Param Text(std::string s) { return Param(std::move(s)); }
inline Param Bytes(std::string_view raw) {
  Param p{std::string(raw)};
  p.binary = true;
  return p;
}
inline Param Int(int64_t v) { return Param(std::to_string(v)); }
inline Param Int(uint64_t v) { return Param(std::to_string(v)); }
inline Param Null() { return Param(); }

// An INT8[] literal ("{1,2,3}") for `= ANY($n::INT8[])`.
std::string Int8Array(std::span<const uint64_t> values);

// A statement's result, cleared on destruction. Text or binary format
// (Connection::Options::binary_results); the accessors read either.
class Rows {
 public:
  explicit Rows(pg_result* r) : r_(r) {}
  Rows(Rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Rows& operator=(Rows&&) = delete;
  ~Rows();

  pg_result* get() const { return r_; }
  int size() const;
  bool null(int row, int col) const;
  // The value's bytes as they came (text, or a binary BYTEA / TEXT).
  std::string text(int row, int col) const;
  // An INT8 column: 8 bytes big-endian in binary format, decimal in text.
  // kDataLoss if it is neither.
  Result<int64_t> int64(int row, int col) const;
  Result<uint64_t> uint64(int row, int col) const;  // the same bits

 private:
  pg_result* r_;
};

// One connection. Thread-compatible.
class Connection {
 public:
  struct Options {
    std::string application_name = "firebreak";
    // Before every statement's error message ("log storage: ").
    std::string message_prefix;
    // Results in binary format (BYTEA raw, INT8 8 bytes) instead of text.
    bool binary_results = false;
  };

  // kUnavailable "opening <name> <where>: <libpq's message>" (scrubbed) if
  // the server cannot be reached. The URL's own settings override ours
  // (connect_timeout 5 s, application_name). Notices are dropped.
  static Result<std::unique_ptr<Connection>> Open(const Endpoint& at, const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` with `params` ($1, $2, …); a failure's message names `what`.
  Result<Rows> Query(const std::string& what, const char* sql, const std::vector<Param>& params = {});
  // The same, when the rows are not needed.
  Status Exec(const std::string& what, const char* sql, const std::vector<Param>& params = {});
  // Several statements without parameters (a migration).
  Status Script(const std::string& what, const char* sql);
  // BEGIN ISOLATION LEVEL SERIALIZABLE (READ ONLY if asked), and a fresh
  // retryable().
  Status Begin(const std::string& what, bool read_only = false);
  // COMMIT, and an error if the server rolled the transaction back instead
  // (it answers a COMMIT after a failed statement with ROLLBACK, not with an
  // error): writes a body lost must never look committed.
  Status Commit(const std::string& what);

  // Whether the server closed the connection (or it broke).
  bool broken() const;
  // Whether a statement since the last Begin met a serialisation failure
  // or a deadlock (even if the caller went on): running the transaction
  // again can cure it.
  bool retryable() const { return retryable_; }
  // The SQLSTATE of the last failed statement ("" if it had none).
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  Connection() = default;
  Result<Rows> Check(const std::string& what, Rows r);

  pg_conn* conn_ = nullptr;
  Options options_;
  std::string password_;
  bool retryable_ = false;
  std::string sqlstate_;
};

// ---- Pools and transactions ----

// Idle connections for reuse. Borrow opens a new one when none is idle;
// GiveBack keeps it unless it broke — then the server went away, and every
// idle connection with it: the pool empties. Thread-safe.
class Pool {
 public:
  using Opener = std::function<Result<std::unique_ptr<Connection>>()>;
  // Keeps at most `max_idle` idle connections (0: no limit).
  explicit Pool(Opener open, size_t max_idle = 0) : open_(std::move(open)), max_idle_(max_idle) {}

  Result<std::unique_ptr<Connection>> Borrow();
  void GiveBack(std::unique_ptr<Connection> conn);

 private:
  Opener open_;
  size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// How many times RunTransaction and Migrate try before giving up.
inline constexpr int kMaxAttempts = 12;

struct TransactionOptions {
  // Names the transaction: "committing <what>", "<what> failed 12 times".
  std::string what = "a transaction";
  bool read_only = false;
  // Also run it again when the connection was lost during the transaction
  // (or no connection could be opened). Only where every write is
  // idempotent: a COMMIT whose answer was lost may have committed.
  bool retry_lost_connection = false;
};

// Runs `body` in one SERIALIZABLE transaction on a connection from `pool`,
// and commits it; from the start again (at most kMaxAttempts times, with a
// short growing pause) when it met a serialisation failure or a deadlock,
// or BEGIN found the pooled connection closed. The error of the first try
// that is not run again; kUnavailable "<what> failed N times: <the last
// error>" when the tries ran out.
// An exception from `body` rolls back and returns the connection first.
Status RunTransaction(Pool& pool, const TransactionOptions& options,
                      const std::function<Status(Connection&)>& body);

// Versioned migrations: migrations[i] brings the tables from version i to
// i + 1, the version kept in the one row of `version_table` (created in an
// empty database). One SERIALIZABLE transaction per migration, so several
// nodes starting at once apply each exactly once (the loser of a race is
// retried and finds the version moved). kFailedPrecondition when the
// database's version is newer than `migrations`.
struct Schema {
  std::string name;           // "log": "reading the log schema version"
  std::string version_table;  // an SQL identifier of ours in lower case, never input
  std::span<const char* const> migrations;
};
Status Migrate(Connection& c, const Schema& schema);

}  // namespace firebreak::pg
