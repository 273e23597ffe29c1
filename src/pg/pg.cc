#include "pg/pg.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>
#include <utility>

namespace firebreak::pg {

// ---- Pure parts ----

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

std::string Scrub(std::string message, std::string_view password) {
  if (!password.empty()) {
    // Searching on after each replacement: a password inside "***" is not met again.
    for (size_t at = 0; (at = message.find(password, at)) != std::string::npos; at += 3) {
      message.replace(at, password.size(), "***");
    }
  }
  for (char& c : message) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  while (!message.empty() && message.back() == ' ') message.pop_back();
  return message;
}

Result<std::string> Describe(const std::string& url, std::string_view name) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    std::string m = err ? Scrub(err, UrlPassword(url)) : "out of memory";
    if (err) PQfreemem(err);
    return tl::make_unexpected(InvalidArgument(std::string(name) + " URL is not valid: " + m));
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

Result<Endpoint> Endpoint::Parse(const std::string& url, std::string_view name) {
  FB_ASSIGN_OR_RETURN(std::string where, Describe(url, name));
  return Endpoint{url, std::string(name), std::move(where), UrlPassword(url)};
}

bool IsSerializationFailure(std::string_view sqlstate) { return sqlstate == "40001" || sqlstate == "40P01"; }

bool IsLostConnection(std::string_view sqlstate) {
  return sqlstate.empty() || sqlstate.starts_with("08") || sqlstate.starts_with("57P");
}

ErrorCode ErrorCodeFor(std::string_view sqlstate, bool broken) {
  if (IsSerializationFailure(sqlstate)) return ErrorCode::kUnavailable;
  if (sqlstate == "23505" || sqlstate == "42P07") return ErrorCode::kAlreadyExists;
  if (sqlstate.starts_with("23")) return ErrorCode::kInvalidArgument;
  if (sqlstate == "XX001" || sqlstate == "XX002") return ErrorCode::kDataLoss;
  if (broken || IsLostConnection(sqlstate) || sqlstate.starts_with("53")) return ErrorCode::kUnavailable;
  return ErrorCode::kIo;
}

std::string Int8Array(std::span<const uint64_t> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

// ---- Rows ----

Rows::~Rows() {
  if (r_) PQclear(r_);
}

int Rows::size() const { return PQntuples(r_); }

bool Rows::null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

std::string Rows::text(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), size_t(PQgetlength(r_, row, col)));
}

Result<int64_t> Rows::int64(int row, int col) const {
  const char* p = PQgetvalue(r_, row, col);
  int length = PQgetlength(r_, row, col);
  if (PQfformat(r_, col) == 1) {
    if (length != 8) return tl::make_unexpected(DataLoss("PostgreSQL: a number column is not INT8"));
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return static_cast<int64_t>(v);
  }
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(p, p + length, v);
  if (ec != std::errc() || ptr != p + length) {
    return tl::make_unexpected(DataLoss("PostgreSQL: a number column is not a number"));
  }
  return v;
}

Result<uint64_t> Rows::uint64(int row, int col) const {
  FB_ASSIGN_OR_RETURN(int64_t v, int64(row, col));
  return static_cast<uint64_t>(v);
}

// ---- Connection ----

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

Result<std::unique_ptr<Connection>> Connection::Open(const Endpoint& at, const Options& options) {
  auto c = std::unique_ptr<Connection>(new Connection);
  c->options_ = options;
  c->password_ = at.password;
  // Our defaults first, so that the URL's own settings override them.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"5", options.application_name.c_str(), at.url.c_str(), nullptr};
  c->conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  const std::string opening = "opening " + at.name + " " + at.where + ": ";
  if (!c->conn_) return tl::make_unexpected(Unavailable(opening + "out of memory"));
  if (PQstatus(c->conn_) != CONNECTION_OK) {
    return tl::make_unexpected(Unavailable(opening + Scrub(PQerrorMessage(c->conn_), at.password)));
  }
  // Nothing the server says goes to our standard error.
  PQsetNoticeProcessor(c->conn_, [](void*, const char*) {}, nullptr);
  return c;
}

bool Connection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

Result<Rows> Connection::Query(const std::string& what, const char* sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  values.reserve(params.size());
  lengths.reserve(params.size());
  formats.reserve(params.size());
  for (const Param& p : params) {
    values.push_back(p.value ? p.value->data() : nullptr);
    lengths.push_back(p.value ? int(p.value->size()) : 0);
    formats.push_back(p.binary ? 1 : 0);
  }
  return Check(what, Rows(PQexecParams(conn_, sql, int(params.size()), nullptr, values.data(), lengths.data(),
                                       formats.data(), options_.binary_results ? 1 : 0)));
}

Status Connection::Exec(const std::string& what, const char* sql, const std::vector<Param>& params) {
  FB_RETURN_IF_ERROR(Query(what, sql, params));
  return Ok();
}

Status Connection::Script(const std::string& what, const char* sql) {
  FB_RETURN_IF_ERROR(Check(what, Rows(PQexec(conn_, sql))));
  return Ok();
}

Status Connection::Begin(const std::string& what, bool read_only) {
  retryable_ = false;
  return Exec(what, read_only ? "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY" : "BEGIN ISOLATION LEVEL SERIALIZABLE");
}

Status Connection::Commit(const std::string& what) {
  FB_ASSIGN_OR_RETURN(Rows r, Query(what, "COMMIT"));
  const char* tag = r.get() ? PQcmdStatus(r.get()) : nullptr;
  if (tag && std::string_view(tag) == "ROLLBACK") {
    return tl::make_unexpected(
        IoError(options_.message_prefix + what + ": the server rolled the transaction back (a statement in it "
                "had failed); nothing of it was written"));
  }
  return Ok();
}

Result<Rows> Connection::Check(const std::string& what, Rows r) {
  ExecStatusType st = r.get() ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  const char* code = r.get() ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = code ? code : "";
  // The server's primary message only: its detail may quote a row's values.
  const char* primary = r.get() ? PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string m = options_.message_prefix + what + ": " +
                  (primary ? std::string(primary) : Scrub(PQerrorMessage(conn_), password_));
  if (!sqlstate_.empty()) m += " (SQLSTATE " + sqlstate_ + ")";
  if (IsSerializationFailure(sqlstate_)) retryable_ = true;
  return tl::make_unexpected(Error(ErrorCodeFor(sqlstate_, broken()), std::move(m)));
}

// ---- Pool ----

Result<std::unique_ptr<Connection>> Pool::Borrow() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return open_();
}

void Pool::GiveBack(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  if (conn->broken()) {
    idle_.clear();  // the server went away: the idle ones went with it
    return;
  }
  if (max_idle_ == 0 || idle_.size() < max_idle_) idle_.push_back(std::move(conn));
}

// ---- Transactions ----

namespace {

void PauseBefore(int attempt) {
  if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1 << attempt, 200)));
}

}  // namespace

Status RunTransaction(Pool& pool, const TransactionOptions& options,
                      const std::function<Status(Connection&)>& body) {
  Status st = Ok();
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    PauseBefore(attempt);
    auto conn = pool.Borrow();
    if (!conn) {
      if (!options.retry_lost_connection) return tl::make_unexpected(conn.error());
      st = tl::make_unexpected(conn.error());
      continue;  // the server may be restarting
    }
    Connection& c = **conn;
    bool retry = false;
    st = c.Begin("beginning a transaction", options.read_only);
    if (st) {
      try {
        st = body(c);
      } catch (...) {
        (void)c.Exec("rolling back", "ROLLBACK");
        pool.GiveBack(std::move(*conn));
        throw;
      }
      if (st) st = c.Commit("committing " + options.what);
      // A lost COMMIT is ambiguous: only a caller whose writes are all
      // idempotent asks for it to be run again.
      retry = c.retryable() || (options.retry_lost_connection && c.broken());
      if (!st) (void)c.Exec("rolling back", "ROLLBACK");
    } else {
      // A pooled connection the server closed (it restarted): nothing
      // began, so try again on a new one.
      retry = c.retryable() || c.broken();
    }
    pool.GiveBack(std::move(*conn));
    if (st || !retry) return st;
  }
  // Tries that ran out are a server that cannot answer now, whatever the
  // last one met.
  return tl::make_unexpected(
      Unavailable(options.what + " failed " + std::to_string(kMaxAttempts) + " times: " + st.error().message()));
}

Status Migrate(Connection& c, const Schema& schema) {
  const std::string& name = schema.name;
  const std::string create = "CREATE TABLE " + schema.version_table +
                             "(one INT8 PRIMARY KEY CHECK (one = 1), version INT8 NOT NULL); INSERT INTO " +
                             schema.version_table + " VALUES (1, 0);";
  const std::string select = "SELECT version FROM " + schema.version_table;
  const std::string update = "UPDATE " + schema.version_table + " SET version = $1";
  const uint64_t latest = schema.migrations.size();
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    PauseBefore(attempt);
    FB_RETURN_IF_ERROR(c.Begin("beginning a migration"));
    auto step = [&]() -> Result<bool> {
      FB_ASSIGN_OR_RETURN(Rows t, c.Query("reading the " + name + " schema version",
                                          "SELECT count(*)::INT8 FROM information_schema.tables "
                                          "WHERE table_schema = current_schema() AND table_name = $1",
                                          {schema.version_table}));
      FB_ASSIGN_OR_RETURN(int64_t has, t.int64(0, 0));
      if (has == 0) FB_RETURN_IF_ERROR(c.Script("creating the " + name + " schema version", create.c_str()));
      FB_ASSIGN_OR_RETURN(Rows v, c.Query("reading the " + name + " schema version", select.c_str()));
      if (v.size() != 1) return tl::make_unexpected(DataLoss("the " + name + " schema version row is missing"));
      FB_ASSIGN_OR_RETURN(uint64_t version, v.uint64(0, 0));
      if (version > latest) {
        return tl::make_unexpected(FailedPrecondition(name + " schema version " + std::to_string(version) +
                                                      " is newer than this build's " + std::to_string(latest)));
      }
      if (version == latest) return false;
      FB_RETURN_IF_ERROR(c.Script("migrating the " + name + " to version " + std::to_string(version + 1),
                                  schema.migrations[version]));
      FB_RETURN_IF_ERROR(c.Exec("recording the " + name + " schema version", update.c_str(), {Int(version + 1)}));
      return true;
    };
    Result<bool> more = step();
    Status end = more ? Status(Ok()) : Status(tl::make_unexpected(more.error()));
    if (more) end = c.Exec("committing a migration", "COMMIT");
    if (!end) {
      bool retry = c.retryable();
      (void)c.Exec("rolling back", "ROLLBACK");
      // A node that lost the race to create the tables sees a duplicate.
      if (retry || end.error().code() == ErrorCode::kAlreadyExists) continue;
      return end;
    }
    if (!*more) return Ok();
    attempt = -1;  // one migration done: the next starts afresh
  }
  return tl::make_unexpected(Unavailable("migrating the " + name + " met concurrent migrations too often"));
}

}  // namespace firebreak::pg
