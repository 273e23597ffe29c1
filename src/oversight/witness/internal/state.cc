// The witness's SQLite state (state.h) with group commit: callers queue
// their change and wait; one of them (the leader) applies every queued
// change in one transaction, each as its own compare-and-swap, commits, and
// wakes the others with their outcomes.
#include "oversight/witness/internal/state.h"

#include <sqlite3.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include <fmt/format.h>

namespace firebreak::oversight::witness::internal {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS logs (
  origin   TEXT PRIMARY KEY,
  size     INTEGER NOT NULL,
  root     BLOB NOT NULL,
  cosigned TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
  id       INTEGER PRIMARY KEY,
  received INTEGER NOT NULL,
  origin   TEXT NOT NULL,
  status   INTEGER NOT NULL,
  reason   TEXT NOT NULL,
  request  BLOB NOT NULL,
  stored   TEXT NOT NULL
);
)sql";

struct Pending {
  Change change;
  bool done = false;
  Result<CommitOutcome> outcome = CommitOutcome::kConflict;
};

}  // namespace

struct StateStore::Impl {
  sqlite3* db = nullptr;
  sqlite3_stmt* select = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* update = nullptr;
  sqlite3_stmt* add_evidence = nullptr;
  std::mutex db_mu;  // the connection is used by one thread at a time

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending*> queue;  // guarded by mu
  bool leader_busy = false;    // guarded by mu

  ~Impl() {
    for (sqlite3_stmt* s : {select, insert, update, add_evidence}) sqlite3_finalize(s);
    if (db) sqlite3_close(db);
  }

  Error Fail(std::string_view what) const {
    return IoError(fmt::format("witness state: {}: {}", what, sqlite3_errmsg(db)));
  }
  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown error";
      sqlite3_free(err);
      return tl::make_unexpected(IoError(fmt::format("witness state: `{}`: {}", sql, m)));
    }
    return Ok();
  }
  Status Prepare(const char* sql, sqlite3_stmt** out) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr) != SQLITE_OK) {
      return tl::make_unexpected(Fail(sql));
    }
    return Ok();
  }
  // One change inside the open transaction.
  Result<CommitOutcome> Apply(const Change& c);
  // Runs one batch in one transaction.
  void RunBatch(std::vector<Pending*>& batch);
};

Result<CommitOutcome> StateStore::Impl::Apply(const Change& c) {
  auto text = [](sqlite3_stmt* s, int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
  };
  auto blob = [](sqlite3_stmt* s, int i, const void* p, size_t n) {
    sqlite3_bind_blob(s, i, p, int(n), SQLITE_TRANSIENT);
  };
  if (c.evidence) {
    const Evidence& e = *c.evidence;
    sqlite3_stmt* s = add_evidence;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, e.received);
    text(s, 2, e.origin);
    sqlite3_bind_int(s, 3, e.status);
    text(s, 4, e.reason);
    blob(s, 5, e.request.data(), e.request.size());
    text(s, 6, e.stored);
    if (sqlite3_step(s) != SQLITE_DONE) return tl::make_unexpected(Fail("keeping evidence"));
    return CommitOutcome::kCommitted;
  }
  sqlite3_stmt* s = c.expect_unset ? insert : update;
  sqlite3_reset(s);
  text(s, 1, c.origin);
  sqlite3_bind_int64(s, 2, int64_t(c.next.size));
  blob(s, 3, c.next.root.data(), c.next.root.size());
  text(s, 4, c.next.cosigned);
  if (!c.expect_unset) {
    sqlite3_bind_int64(s, 5, int64_t(c.expect_size));
    blob(s, 6, c.expect_root.data(), c.expect_root.size());
  }
  int rc = sqlite3_step(s);
  if (c.expect_unset && rc == SQLITE_CONSTRAINT_PRIMARYKEY) return CommitOutcome::kConflict;
  if (rc != SQLITE_DONE) return tl::make_unexpected(Fail("updating a log's state"));
  return sqlite3_changes(db) == 1 ? CommitOutcome::kCommitted : CommitOutcome::kConflict;
}

void StateStore::Impl::RunBatch(std::vector<Pending*>& batch) {
  std::lock_guard lock(db_mu);
  if (auto st = Exec("BEGIN IMMEDIATE"); !st) {
    for (Pending* p : batch) p->outcome = tl::make_unexpected(st.error());
    return;
  }
  for (Pending* p : batch) {
    // A failed statement rolls back only itself; the others stand.
    p->outcome = Apply(p->change);
  }
  if (auto st = Exec("COMMIT"); !st) {
    Exec("ROLLBACK").has_value();
    for (Pending* p : batch) p->outcome = tl::make_unexpected(st.error());
  }
}

StateStore::StateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StateStore::~StateStore() = default;

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  if (sqlite3_open_v2(path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string m = impl->db ? sqlite3_errmsg(impl->db) : "out of memory";
    return tl::make_unexpected(IoError(fmt::format("opening the witness state `{}`: {}", path, m)));
  }
  sqlite3_extended_result_codes(impl->db, 1);
  // Exclusive: a second witness process on the same state would break the
  // compare-and-swap's premise that this process sees every change.
  // synchronous=FULL: each COMMIT is fsync'd before it returns.
  FB_RETURN_IF_ERROR(impl->Exec(
      "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  if (auto st = impl->Exec("BEGIN IMMEDIATE; COMMIT;"); !st) {
    return tl::make_unexpected(IoError(fmt::format(
        "the witness state `{}` is in use by another process (or unreadable): {}", path,
        st.error().message())));
  }
  FB_RETURN_IF_ERROR(impl->Exec(kSchema));
  FB_RETURN_IF_ERROR(impl->Prepare("SELECT size, root, cosigned FROM logs WHERE origin = ?1",
                                   &impl->select));
  FB_RETURN_IF_ERROR(impl->Prepare(
      "INSERT INTO logs (origin, size, root, cosigned) VALUES (?1, ?2, ?3, ?4)", &impl->insert));
  FB_RETURN_IF_ERROR(impl->Prepare(
      "UPDATE logs SET size = ?2, root = ?3, cosigned = ?4 WHERE origin = ?1 AND size = ?5 AND root = ?6",
      &impl->update));
  FB_RETURN_IF_ERROR(impl->Prepare(
      "INSERT INTO evidence (received, origin, status, reason, request, stored) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      &impl->add_evidence));
  return std::unique_ptr<StateStore>(new StateStore(std::move(impl)));
}

Result<std::optional<LogState>> StateStore::Load(const std::string& origin) {
  Impl& m = *impl_;
  std::lock_guard lock(m.db_mu);
  sqlite3_stmt* s = m.select;
  sqlite3_reset(s);
  sqlite3_bind_text(s, 1, origin.data(), int(origin.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return std::optional<LogState>();
  if (rc != SQLITE_ROW) return tl::make_unexpected(m.Fail("reading a log's state"));
  LogState st;
  int64_t size = sqlite3_column_int64(s, 0);
  const void* root = sqlite3_column_blob(s, 1);
  int root_len = sqlite3_column_bytes(s, 1);
  if (size < 0 || root_len != int(ledger::kHashSize)) {
    return tl::make_unexpected(DataLoss(fmt::format("witness state: the row of `{}` is corrupt", origin)));
  }
  st.size = uint64_t(size);
  std::memcpy(st.root.data(), root, ledger::kHashSize);
  const unsigned char* cs = sqlite3_column_text(s, 2);
  st.cosigned = cs ? reinterpret_cast<const char*>(cs) : "";
  sqlite3_reset(s);
  return std::optional<LogState>(std::move(st));
}

Result<CommitOutcome> StateStore::Commit(Change change) {
  Impl& m = *impl_;
  Pending me{std::move(change)};
  std::unique_lock lock(m.mu);
  m.queue.push_back(&me);
  while (!me.done) {
    if (!m.leader_busy) {
      // Lead: take everything queued (this change included) as one batch.
      m.leader_busy = true;
      std::vector<Pending*> batch(m.queue.begin(), m.queue.end());
      m.queue.clear();
      lock.unlock();
      m.RunBatch(batch);
      lock.lock();
      for (Pending* p : batch) p->done = true;
      m.leader_busy = false;
      m.cv.notify_all();
    } else {
      m.cv.wait(lock);
    }
  }
  return std::move(me.outcome);
}

Result<uint64_t> StateStore::CountEvidence(const std::string& origin) {
  Impl& m = *impl_;
  std::lock_guard lock(m.db_mu);
  sqlite3_stmt* s = nullptr;
  FB_RETURN_IF_ERROR(m.Prepare("SELECT COUNT(*) FROM evidence WHERE origin = ?1", &s));
  sqlite3_bind_text(s, 1, origin.data(), int(origin.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(s);
  uint64_t n = rc == SQLITE_ROW ? uint64_t(sqlite3_column_int64(s, 0)) : 0;
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW) return tl::make_unexpected(m.Fail("counting evidence"));
  return n;
}

Result<std::vector<Evidence>> StateStore::ListEvidence(size_t limit) {
  Impl& m = *impl_;
  std::lock_guard lock(m.db_mu);
  sqlite3_stmt* s = nullptr;
  FB_RETURN_IF_ERROR(m.Prepare(
      "SELECT id, received, origin, status, reason, request, stored FROM evidence ORDER BY id LIMIT ?1",
      &s));
  sqlite3_bind_int64(s, 1, int64_t(limit));
  std::vector<Evidence> out;
  int rc;
  auto col = [s](int i) {
    const void* p = sqlite3_column_blob(s, i);
    return std::string(static_cast<const char*>(p ? p : ""), size_t(sqlite3_column_bytes(s, i)));
  };
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    Evidence e;
    e.id = sqlite3_column_int64(s, 0);
    e.received = sqlite3_column_int64(s, 1);
    e.origin = col(2);
    e.status = sqlite3_column_int(s, 3);
    e.reason = col(4);
    e.request = col(5);
    e.stored = col(6);
    out.push_back(std::move(e));
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return tl::make_unexpected(m.Fail("listing evidence"));
  return out;
}

}  // namespace firebreak::oversight::witness::internal
