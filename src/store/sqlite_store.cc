// The SQLite store: one writer connection (writes are serialised) and a pool
// of reader connections, so reads run concurrently with each other and with
// the writer (WAL). Prepared statements are cached per connection.
//
// Durability: WAL with synchronous=NORMAL, crash-consistent (a crash loses at
// most the last transactions, never corrupts). Nothing the gateway promises
// rests on the store's last write: the decision log is durable before any
// data leaves.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include <boost/json.hpp>

#include "store/store.h"

namespace firebreak::store {
namespace {

namespace json = boost::json;

// Versioned migrations: migration i brings the schema from version i to i+1
// (PRAGMA user_version). Never edit a shipped migration; append a new one.
constexpr const char* kMigrations[] = {
    // 0 → 1: the first schema.
    R"sql(
CREATE TABLE organisations(
  id TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, scope TEXT NOT NULL);
CREATE TABLE credentials(
  kind INTEGER NOT NULL, digest TEXT NOT NULL,
  org_id TEXT NOT NULL REFERENCES organisations(id),
  PRIMARY KEY(kind, digest)) WITHOUT ROWID;
CREATE TABLE field_categories(field TEXT PRIMARY KEY, category TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE subjects(
  id INTEGER PRIMARY KEY, reference TEXT NOT NULL UNIQUE,
  given_name TEXT NOT NULL, family_name TEXT NOT NULL, date_of_birth TEXT NOT NULL,
  identity_key TEXT NOT NULL, concern TEXT NOT NULL,
  regularisation_pending INTEGER NOT NULL, subject_initiated INTEGER NOT NULL,
  consent_to_ie INTEGER NOT NULL, flags TEXT NOT NULL, service_roles TEXT NOT NULL);
CREATE INDEX subjects_identity ON subjects(identity_key);
CREATE TABLE cases(id TEXT PRIMARY KEY, type TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE participants(
  subject_id INTEGER NOT NULL REFERENCES subjects(id),
  case_id TEXT NOT NULL REFERENCES cases(id), role TEXT NOT NULL,
  PRIMARY KEY(subject_id, case_id, role)) WITHOUT ROWID;
CREATE TABLE records(
  id INTEGER PRIMARY KEY, subject_id INTEGER NOT NULL REFERENCES subjects(id),
  kind TEXT NOT NULL, collected_as TEXT NOT NULL, case_id TEXT REFERENCES cases(id),
  fields TEXT NOT NULL);
CREATE INDEX records_subject ON records(subject_id);
CREATE TABLE receipts(
  id TEXT PRIMARY KEY, log_index INTEGER NOT NULL,
  org_id TEXT NOT NULL REFERENCES organisations(id), created INTEGER NOT NULL);
)sql",
    // 1 → 2: flags on cases (a domestic-abuse flag on an assault) and the
    // subject's own choices for evidence sent for her application (X1).
    R"sql(
ALTER TABLE cases ADD COLUMN flags TEXT NOT NULL DEFAULT '';
CREATE TABLE application_choices(
  subject_id INTEGER PRIMARY KEY REFERENCES subjects(id),
  recipient TEXT NOT NULL, categories TEXT NOT NULL,
  recorded_by TEXT NOT NULL, recorded_on TEXT NOT NULL);
)sql",
    // 2 → 3: the safe reporting pathway and the data-subject tracker:
    // reports, tracker tokens (hashes only; mandates are tokens held by an
    // advocate organisation), covert holds, and the index from a subject's
    // pseudonym to the log entries that touched it.
    R"sql(
CREATE TABLE reports(
  id TEXT PRIMARY KEY, subject_id INTEGER NOT NULL REFERENCES subjects(id),
  case_id TEXT NOT NULL REFERENCES cases(id),
  org_id TEXT NOT NULL REFERENCES organisations(id),
  created INTEGER NOT NULL, dropped_fields INTEGER NOT NULL);
CREATE TABLE tracker_tokens(
  digest TEXT PRIMARY KEY, subject_id INTEGER NOT NULL REFERENCES subjects(id),
  kind TEXT NOT NULL, org_id TEXT REFERENCES organisations(id),
  created INTEGER NOT NULL, revoked INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX tracker_tokens_subject ON tracker_tokens(subject_id);
CREATE TABLE holds(
  log_index INTEGER PRIMARY KEY, hidden_until INTEGER NOT NULL,
  reason TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE tracker_index(
  pseudonym TEXT NOT NULL, log_index INTEGER NOT NULL,
  PRIMARY KEY(pseudonym, log_index)) WITHOUT ROWID;
)sql",
    // 3 → 4: a change stamp, bumped in the same transaction as every write
    // to what a decision or an authentication reads, by whichever program
    // writes it (triggers), so that the gateway may cache those reads and
    // know, with one small read, whether they are still current.
    R"sql(
CREATE TABLE change_stamp(n INTEGER NOT NULL);
INSERT INTO change_stamp(n) VALUES(0);
CREATE TRIGGER change_stamp_organisations_insert AFTER INSERT ON organisations BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_organisations_update AFTER UPDATE ON organisations BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_organisations_delete AFTER DELETE ON organisations BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_credentials_insert AFTER INSERT ON credentials BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_credentials_update AFTER UPDATE ON credentials BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_credentials_delete AFTER DELETE ON credentials BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_field_categories_insert AFTER INSERT ON field_categories BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_field_categories_update AFTER UPDATE ON field_categories BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_field_categories_delete AFTER DELETE ON field_categories BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_subjects_insert AFTER INSERT ON subjects BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_subjects_update AFTER UPDATE ON subjects BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_subjects_delete AFTER DELETE ON subjects BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_cases_insert AFTER INSERT ON cases BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_cases_update AFTER UPDATE ON cases BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_cases_delete AFTER DELETE ON cases BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_participants_insert AFTER INSERT ON participants BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_participants_update AFTER UPDATE ON participants BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_participants_delete AFTER DELETE ON participants BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_records_insert AFTER INSERT ON records BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_records_update AFTER UPDATE ON records BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_records_delete AFTER DELETE ON records BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_application_choices_insert AFTER INSERT ON application_choices BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_application_choices_update AFTER UPDATE ON application_choices BEGIN UPDATE change_stamp SET n = n + 1; END;
CREATE TRIGGER change_stamp_application_choices_delete AFTER DELETE ON application_choices BEGIN UPDATE change_stamp SET n = n + 1; END;
)sql",
};
constexpr int kSchemaVersion = int(std::size(kMigrations));

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::string EncodeFields(const std::vector<Field>& fields) {
  json::array a;
  for (const Field& f : fields) a.push_back(json::array{json::string(f.name), json::string(f.value)});
  return json::serialize(a);
}

Result<std::vector<Field>> DecodeFields(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return tl::make_unexpected(DataLoss("record fields are not a JSON array"));
  std::vector<Field> out;
  for (const json::value& e : v.get_array()) {
    const json::array* pair = e.if_array();
    if (!pair || pair->size() != 2 || !(*pair)[0].is_string() || !(*pair)[1].is_string()) {
      return tl::make_unexpected(DataLoss("record field is not a [name, value] pair"));
    }
    out.push_back({std::string((*pair)[0].get_string()), std::string((*pair)[1].get_string())});
  }
  return out;
}

// One connection and its cached statements. Thread-compatible.
class Connection {
 public:
  ~Connection() {
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close(db_);
  }

  static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool create) {
    auto c = std::unique_ptr<Connection>(new Connection);
    if (create) {
      // Personal data: the file (and the -wal and -shm files SQLite gives
      // the same mode) is readable by its owner only.
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) return tl::make_unexpected(IoError("creating store " + path + ": " + std::strerror(errno)));
      ::close(fd);
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr) != SQLITE_OK) {
      std::string m = c->db_ ? sqlite3_errmsg(c->db_) : "out of memory";
      return tl::make_unexpected(IoError("opening store " + path + ": " + m));
    }
    sqlite3_extended_result_codes(c->db_, 1);
    sqlite3_busy_timeout(c->db_, 10000);
    FB_RETURN_IF_ERROR(c->Exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"));
    return c;
  }

  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown error";
      sqlite3_free(err);
      return tl::make_unexpected(IoError("store: " + m));
    }
    return Ok();
  }

  // Runs one statement without results (BEGIN, COMMIT) from the cache:
  // unlike Exec, nothing is parsed again.
  Status Run(const char* sql) {
    FB_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(sql));
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return tl::make_unexpected(StepError(std::string("store: ") + sql));
    return Ok();
  }

  // A reset statement for `sql`, cached.
  Result<sqlite3_stmt*> Prepare(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      return tl::make_unexpected(Internal(std::string("store: preparing: ") + sqlite3_errmsg(db_)));
    }
    stmts_[sql] = stmt;
    return stmt;
  }

  Error StepError(const std::string& what) const {
    int code = sqlite3_extended_errcode(db_);
    std::string m = what + ": " + sqlite3_errmsg(db_);
    if (code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE) {
      return AlreadyExists(m);
    }
    if ((code & 0xff) == SQLITE_CONSTRAINT) return InvalidArgument(m);
    if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB) return DataLoss(m);
    return IoError(m);
  }

  sqlite3* db() { return db_; }

  // Ends every statement's read so the connection holds no snapshot.
  void ResetAll() {
    for (auto& [sql, stmt] : stmts_) sqlite3_reset(stmt);
  }

 private:
  Connection() = default;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

void Bind(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
}
void Bind(sqlite3_stmt* s, int i, int64_t v) { sqlite3_bind_int64(s, i, v); }

std::string Text(sqlite3_stmt* s, int col) {
  const unsigned char* p = sqlite3_column_text(s, col);
  return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(s, col)))
           : std::string();
}

// Read from `subjects s LEFT JOIN application_choices a` (kSubjectFrom).
constexpr const char kSubjectColumns[] =
    "s.id, s.reference, s.given_name, s.family_name, s.date_of_birth, s.concern, "
    "s.regularisation_pending, s.subject_initiated, s.consent_to_ie, s.flags, s.service_roles, "
    "a.recipient, a.categories, a.recorded_by, a.recorded_on";
constexpr const char kSubjectFrom[] =
    " FROM subjects s LEFT JOIN application_choices a ON a.subject_id = s.id";

Subject ReadSubject(sqlite3_stmt* s) {
  Subject out;
  out.id = sqlite3_column_int64(s, 0);
  out.reference = Text(s, 1);
  out.given_name = Text(s, 2);
  out.family_name = Text(s, 3);
  out.date_of_birth = Text(s, 4);
  out.concern = Text(s, 5);
  out.regularisation_pending = sqlite3_column_int(s, 6) != 0;
  out.subject_initiated = sqlite3_column_int(s, 7) != 0;
  out.consent_to_ie = sqlite3_column_int(s, 8) != 0;
  out.flags = Split(Text(s, 9));
  out.service_roles = Split(Text(s, 10));
  if (sqlite3_column_type(s, 11) != SQLITE_NULL) {
    out.application = ApplicationChoice{Text(s, 11), Split(Text(s, 12)), Text(s, 13), Text(s, 14)};
  }
  return out;
}

TrackerToken ReadToken(sqlite3_stmt* s) {
  return TrackerToken{Text(s, 0), sqlite3_column_int64(s, 1), Text(s, 2), Text(s, 3), sqlite3_column_int64(s, 4),
                      sqlite3_column_int64(s, 5)};
}

Result<std::optional<Organisation>> ReadOrganisation(Connection& c, sqlite3_stmt* s) {
  int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return std::optional<Organisation>();
  if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading organisation"));
  Organisation o{Text(s, 0), Text(s, 1), Text(s, 2), Scope::kRequester};
  if (!ParseScope(Text(s, 3), &o.scope)) {
    return tl::make_unexpected(DataLoss("organisation `" + o.id + "` has an unknown scope"));
  }
  return std::optional<Organisation>(std::move(o));
}

class SqliteStore : public Store {
 public:
  explicit SqliteStore(std::string path, std::unique_ptr<Connection> writer)
      : path_(std::move(path)), writer_(std::move(writer)) {}

  Status PutOrganisation(const Organisation& org) override {
    FB_RETURN_IF_ERROR(CheckWritable(org));
    return Write("storing organisation", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO organisations(id, type, name, scope) VALUES(?,?,?,?) "
                                    "ON CONFLICT(id) DO UPDATE SET type=excluded.type, "
                                    "name=excluded.name, scope=excluded.scope"));
      Bind(s, 1, org.id);
      Bind(s, 2, org.type);
      Bind(s, 3, org.name);
      Bind(s, 4, ScopeName(org.scope));
      return Done(c, s, "storing organisation");
    });
  }

  Status AddCredential(std::string_view org_id, CredentialKind kind,
                       std::string_view sha256_hex) override {
    FB_RETURN_IF_ERROR(CheckStoredText("credential `org_id`", org_id));
    FB_RETURN_IF_ERROR(CheckStoredText("credential digest", sha256_hex));
    return Write("storing credential", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO credentials(kind, digest, org_id) VALUES(?,?,?)"));
      Bind(s, 1, int64_t(kind));
      Bind(s, 2, sha256_hex);
      Bind(s, 3, org_id);
      return Done(c, s, "storing credential");
    });
  }

  Status SetFieldCategory(std::string_view field, std::string_view category) override {
    FB_RETURN_IF_ERROR(CheckStoredText("field map `field`", field));
    FB_RETURN_IF_ERROR(CheckStoredText("field map `category`", category));
    return Write("storing field category", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO field_categories(field, category) VALUES(?,?) "
                                    "ON CONFLICT(field) DO UPDATE SET category=excluded.category"));
      Bind(s, 1, field);
      Bind(s, 2, category);
      return Done(c, s, "storing field category");
    });
  }

  Result<int64_t> AddSubject(const Subject& subject) override {
    FB_RETURN_IF_ERROR(CheckWritable(subject));  // its application choice too
    int64_t id = 0;
    FB_RETURN_IF_ERROR(Write("storing subject", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(
          sqlite3_stmt * s,
          c.Prepare("INSERT INTO subjects(reference, given_name, family_name, date_of_birth, "
                    "identity_key, concern, regularisation_pending, subject_initiated, "
                    "consent_to_ie, flags, service_roles) VALUES(?,?,?,?,?,?,?,?,?,?,?)"));
      Bind(s, 1, subject.reference);
      Bind(s, 2, subject.given_name);
      Bind(s, 3, subject.family_name);
      Bind(s, 4, subject.date_of_birth);
      Bind(s, 5, IdentityKey(subject.given_name, subject.family_name, subject.date_of_birth));
      Bind(s, 6, subject.concern);
      Bind(s, 7, int64_t(subject.regularisation_pending));
      Bind(s, 8, int64_t(subject.subject_initiated));
      Bind(s, 9, int64_t(subject.consent_to_ie));
      Bind(s, 10, Join(subject.flags));
      Bind(s, 11, Join(subject.service_roles));
      FB_RETURN_IF_ERROR(Done(c, s, "storing subject `" + subject.reference + "`"));
      id = sqlite3_last_insert_rowid(c.db());
      if (subject.application) return PutChoice(c, id, *subject.application);
      return Ok();
    }));
    return id;
  }

  Status PutCase(const Case& k) override {
    FB_RETURN_IF_ERROR(CheckWritable(k));
    return Write("storing case", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO cases(id, type, status, flags) VALUES(?,?,?,?) "
                                    "ON CONFLICT(id) DO UPDATE SET type=excluded.type, "
                                    "status=excluded.status, flags=excluded.flags"));
      Bind(s, 1, k.id);
      Bind(s, 2, k.type);
      Bind(s, 3, k.status);
      Bind(s, 4, Join(k.flags));
      return Done(c, s, "storing case `" + k.id + "`");
    });
  }

  Status SetApplicationChoice(int64_t subject_id, const ApplicationChoice& choice) override {
    FB_RETURN_IF_ERROR(CheckApplicationChoice(choice));
    return Write("storing application choice", [&](Connection& c) -> Status {
      return PutChoice(c, subject_id, choice);
    });
  }

  Status AddParticipant(std::string_view case_id, int64_t subject_id,
                        std::string_view role) override {
    FB_RETURN_IF_ERROR(CheckStoredText("participant `case_id`", case_id));
    FB_RETURN_IF_ERROR(CheckStoredText("participant `role`", role));
    return Write("storing participant", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO participants(subject_id, case_id, role) "
                                    "VALUES(?,?,?)"));
      Bind(s, 1, subject_id);
      Bind(s, 2, case_id);
      Bind(s, 3, role);
      return Done(c, s, "storing participant");
    });
  }

  Result<int64_t> AddRecord(const Record& record) override {
    FB_RETURN_IF_ERROR(CheckWritable(record));
    int64_t id = 0;
    FB_RETURN_IF_ERROR(Write("storing record", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO records(subject_id, kind, collected_as, case_id, "
                                    "fields) VALUES(?,?,?,?,?)"));
      Bind(s, 1, record.subject_id);
      Bind(s, 2, record.kind);
      Bind(s, 3, record.collected_as);
      if (record.case_id.empty()) {
        sqlite3_bind_null(s, 4);
      } else {
        Bind(s, 4, record.case_id);
      }
      Bind(s, 5, EncodeFields(record.fields));
      FB_RETURN_IF_ERROR(Done(c, s, "storing record"));
      id = sqlite3_last_insert_rowid(c.db());
      return Ok();
    }));
    return id;
  }

  Status PutReceipt(const Receipt& receipt) override {
    FB_RETURN_IF_ERROR(CheckWritable(receipt));
    return Write("storing receipt", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO receipts(id, log_index, org_id, created) "
                                    "VALUES(?,?,?,?)"));
      Bind(s, 1, receipt.id);
      Bind(s, 2, int64_t(receipt.log_index));
      Bind(s, 3, receipt.org_id);
      Bind(s, 4, receipt.created);
      return Done(c, s, "storing receipt");
    });
  }


  Status PutReport(const Report& r) override {
    FB_RETURN_IF_ERROR(CheckWritable(r));
    return Write("storing report", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO reports(id, subject_id, case_id, org_id, created, "
                                    "dropped_fields) VALUES(?,?,?,?,?,?)"));
      Bind(s, 1, r.id);
      Bind(s, 2, r.subject_id);
      Bind(s, 3, r.case_id);
      Bind(s, 4, r.org_id);
      Bind(s, 5, r.created);
      Bind(s, 6, r.dropped_fields);
      return Done(c, s, "storing report");
    });
  }

  Status PutTrackerToken(const TrackerToken& t) override {
    FB_RETURN_IF_ERROR(CheckWritable(t));
    return Write("storing tracker token", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO tracker_tokens(digest, subject_id, kind, org_id, created, "
                                    "revoked) VALUES(?,?,?,?,?,?)"));
      Bind(s, 1, t.digest);
      Bind(s, 2, t.subject_id);
      Bind(s, 3, t.kind);
      if (t.org_id.empty()) {
        sqlite3_bind_null(s, 4);
      } else {
        Bind(s, 4, t.org_id);
      }
      Bind(s, 5, t.created);
      Bind(s, 6, t.revoked);
      return Done(c, s, "storing tracker token");
    });
  }

  Status RevokeTrackerToken(std::string_view digest, int64_t when) override {
    FB_RETURN_IF_ERROR(CheckStoredText("tracker token digest", digest));
    return Write("revoking tracker token", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("UPDATE tracker_tokens SET revoked = ? WHERE digest = ?"));
      Bind(s, 1, when);
      Bind(s, 2, digest);
      FB_RETURN_IF_ERROR(Done(c, s, "revoking tracker token"));
      if (sqlite3_changes(c.db()) == 0) return tl::make_unexpected(NotFound("no such tracker token"));
      return Ok();
    });
  }

  Status PutHold(const Hold& h) override {
    FB_RETURN_IF_ERROR(CheckWritable(h));
    return Write("storing hold", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO holds(log_index, hidden_until, reason, created) VALUES(?,?,?,?) "
                                    "ON CONFLICT(log_index) DO UPDATE SET hidden_until=excluded.hidden_until, "
                                    "reason=excluded.reason, created=excluded.created"));
      Bind(s, 1, int64_t(h.log_index));
      Bind(s, 2, h.hidden_until);
      Bind(s, 3, h.reason);
      Bind(s, 4, h.created);
      return Done(c, s, "storing hold");
    });
  }

  Status AddTrackerIndex(std::string_view pseudonym, uint64_t log_index) override {
    FB_RETURN_IF_ERROR(CheckStoredText("tracker index `pseudonym`", pseudonym));
    return Write("indexing", [&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("INSERT INTO tracker_index(pseudonym, log_index) VALUES(?,?) "
                                    "ON CONFLICT DO NOTHING"));
      Bind(s, 1, pseudonym);
      Bind(s, 2, int64_t(log_index));
      return Done(c, s, "indexing a log entry for the tracker");
    });
  }

  Status Bulk(const std::function<Status()>& body) override {
    std::lock_guard lock(writer_mu_);
    if (in_bulk_) return body();
    FB_RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
    in_bulk_ = true;
    Status st = body();
    in_bulk_ = false;
    if (!st) {
      (void)writer_->Exec("ROLLBACK");
      return st;
    }
    Status committed = writer_->Exec("COMMIT");
    if (!committed) (void)writer_->Exec("ROLLBACK");
    return committed;
  }

  Status BulkDurable(const std::function<Status()>& body) override {
    std::lock_guard lock(writer_mu_);
    if (in_bulk_) return body();
    FB_RETURN_IF_ERROR(writer_->Exec("PRAGMA synchronous=FULL"));
    Status st = Bulk(body);
    Status back = writer_->Exec("PRAGMA synchronous=NORMAL");
    if (st && !back) return back;
    return st;
  }

  Result<std::optional<Organisation>> FindOrganisationByCredential(
      CredentialKind kind, std::string_view sha256_hex) override {
    if (!IsStoredText(sha256_hex)) return std::optional<Organisation>();  // no such key is stored
    return Read<std::optional<Organisation>>([&](Connection& c) -> Result<std::optional<Organisation>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT o.id, o.type, o.name, o.scope FROM credentials k "
                                    "JOIN organisations o ON o.id = k.org_id "
                                    "WHERE k.kind = ? AND k.digest = ?"));
      Bind(s, 1, int64_t(kind));
      Bind(s, 2, sha256_hex);
      return ReadOrganisation(c, s);
    });
  }

  Result<std::optional<uint64_t>> ChangeStamp() override {
    return Read<std::optional<uint64_t>>([&](Connection& c) -> Result<std::optional<uint64_t>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s, c.Prepare("SELECT n FROM change_stamp"));
      int rc = sqlite3_step(s);
      if (rc != SQLITE_ROW) {
        Error e = c.StepError("reading the change stamp");
        sqlite3_reset(s);
        return tl::make_unexpected(e);
      }
      auto n = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
      sqlite3_reset(s);
      return std::optional<uint64_t>(n);
    });
  }

  Result<std::optional<Organisation>> GetOrganisation(std::string_view id) override {
    if (!IsStoredText(id)) return std::optional<Organisation>();  // no such key is stored
    return Read<std::optional<Organisation>>([&](Connection& c) -> Result<std::optional<Organisation>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT id, type, name, scope FROM organisations WHERE id = ?"));
      Bind(s, 1, id);
      return ReadOrganisation(c, s);
    });
  }

  Result<std::optional<Subject>> FindSubjectByReference(std::string_view reference) override {
    if (!IsStoredText(reference)) return std::optional<Subject>();  // no such key is stored
    return Read<std::optional<Subject>>([&](Connection& c) -> Result<std::optional<Subject>> {
      static const std::string sql =
          std::string("SELECT ") + kSubjectColumns + kSubjectFrom + " WHERE s.reference = ?";
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s, c.Prepare(sql.c_str()));
      Bind(s, 1, reference);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return std::optional<Subject>();
      if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading subject"));
      return std::optional<Subject>(ReadSubject(s));
    });
  }

  Result<std::vector<Subject>> MatchIdentity(std::string_view given_name,
                                             std::string_view family_name,
                                             std::string_view date_of_birth) override {
    if (!IsStoredText(IdentityKey(given_name, family_name, date_of_birth))) return std::vector<Subject>();
    return Read<std::vector<Subject>>([&](Connection& c) -> Result<std::vector<Subject>> {
      static const std::string sql = std::string("SELECT ") + kSubjectColumns + kSubjectFrom +
                                     " WHERE s.identity_key = ? ORDER BY s.id";
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s, c.Prepare(sql.c_str()));
      Bind(s, 1, IdentityKey(given_name, family_name, date_of_birth));
      std::vector<Subject> out;
      for (int rc; (rc = sqlite3_step(s)) != SQLITE_DONE;) {
        if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("matching identity"));
        out.push_back(ReadSubject(s));
      }
      return out;
    });
  }

  Result<std::vector<Participation>> SubjectCases(int64_t subject_id) override {
    return Read<std::vector<Participation>>([&](Connection& c) -> Result<std::vector<Participation>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT c.id, c.type, c.status, p.role, c.flags FROM participants p "
                                    "JOIN cases c ON c.id = p.case_id WHERE p.subject_id = ? "
                                    "ORDER BY c.id, p.role"));
      Bind(s, 1, subject_id);
      std::vector<Participation> out;
      for (int rc; (rc = sqlite3_step(s)) != SQLITE_DONE;) {
        if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading cases"));
        out.push_back({Text(s, 0), Text(s, 1), Text(s, 2), Text(s, 3), Split(Text(s, 4))});
      }
      return out;
    });
  }

  Result<std::vector<Record>> SubjectRecords(int64_t subject_id) override {
    return Read<std::vector<Record>>([&](Connection& c) -> Result<std::vector<Record>> {
      FB_ASSIGN_OR_RETURN(
          sqlite3_stmt * s,
          c.Prepare("SELECT r.id, r.kind, r.collected_as, r.case_id, r.fields, c.type, c.status "
                    "FROM records r LEFT JOIN cases c ON c.id = r.case_id "
                    "WHERE r.subject_id = ? ORDER BY r.id"));
      Bind(s, 1, subject_id);
      std::vector<Record> out;
      for (int rc; (rc = sqlite3_step(s)) != SQLITE_DONE;) {
        if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading records"));
        Record r;
        r.id = sqlite3_column_int64(s, 0);
        r.subject_id = subject_id;
        r.kind = Text(s, 1);
        r.collected_as = Text(s, 2);
        r.case_id = Text(s, 3);
        FB_ASSIGN_OR_RETURN(r.fields, DecodeFields(Text(s, 4)));
        r.case_type = Text(s, 5);
        r.case_status = Text(s, 6);
        out.push_back(std::move(r));
      }
      return out;
    });
  }

  Result<std::map<std::string, std::string>> FieldCategories() override {
    using Map = std::map<std::string, std::string>;
    return Read<Map>([&](Connection& c) -> Result<Map> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT field, category FROM field_categories"));
      Map out;
      for (int rc; (rc = sqlite3_step(s)) != SQLITE_DONE;) {
        if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading field map"));
        out[Text(s, 0)] = Text(s, 1);
      }
      return out;
    });
  }

  Result<std::optional<Receipt>> GetReceipt(std::string_view id) override {
    if (!IsStoredText(id)) return std::optional<Receipt>();  // no such key is stored
    return Read<std::optional<Receipt>>([&](Connection& c) -> Result<std::optional<Receipt>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT id, log_index, org_id, created FROM receipts "
                                    "WHERE id = ?"));
      Bind(s, 1, id);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return std::optional<Receipt>();
      if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading receipt"));
      Receipt r{Text(s, 0), uint64_t(sqlite3_column_int64(s, 1)), Text(s, 2),
                sqlite3_column_int64(s, 3)};
      return std::optional<Receipt>(std::move(r));
    });
  }


  Result<std::optional<Report>> GetReport(std::string_view id) override {
    if (!IsStoredText(id)) return std::optional<Report>();  // no such key is stored
    return Read<std::optional<Report>>([&](Connection& c) -> Result<std::optional<Report>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT id, subject_id, case_id, org_id, created, dropped_fields "
                                    "FROM reports WHERE id = ?"));
      Bind(s, 1, id);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return std::optional<Report>();
      if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading report"));
      return std::optional<Report>(Report{Text(s, 0), sqlite3_column_int64(s, 1), Text(s, 2), Text(s, 3),
                                          sqlite3_column_int64(s, 4), sqlite3_column_int64(s, 5)});
    });
  }

  Result<std::optional<TrackerToken>> FindTrackerToken(std::string_view digest) override {
    if (!IsStoredText(digest)) return std::optional<TrackerToken>();  // no such key is stored
    return Read<std::optional<TrackerToken>>([&](Connection& c) -> Result<std::optional<TrackerToken>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT digest, subject_id, kind, org_id, created, revoked "
                                    "FROM tracker_tokens WHERE digest = ?"));
      Bind(s, 1, digest);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return std::optional<TrackerToken>();
      if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading tracker token"));
      return std::optional<TrackerToken>(ReadToken(s));
    });
  }

  Result<std::vector<TrackerToken>> SubjectTrackerTokens(int64_t subject_id) override {
    return Read<std::vector<TrackerToken>>([&](Connection& c) -> Result<std::vector<TrackerToken>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT digest, subject_id, kind, org_id, created, revoked "
                                    "FROM tracker_tokens WHERE subject_id = ? ORDER BY created, digest"));
      Bind(s, 1, subject_id);
      std::vector<TrackerToken> out;
      for (int rc; (rc = sqlite3_step(s)) != SQLITE_DONE;) {
        if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading tracker tokens"));
        out.push_back(ReadToken(s));
      }
      return out;
    });
  }

  Result<std::optional<Subject>> GetSubject(int64_t id) override {
    return Read<std::optional<Subject>>([&](Connection& c) -> Result<std::optional<Subject>> {
      static const std::string sql = std::string("SELECT ") + kSubjectColumns + kSubjectFrom + " WHERE s.id = ?";
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s, c.Prepare(sql.c_str()));
      Bind(s, 1, id);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return std::optional<Subject>();
      if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading subject"));
      return std::optional<Subject>(ReadSubject(s));
    });
  }

  Result<std::vector<Hold>> HoldsFor(const std::vector<uint64_t>& indices) override {
    return Read<std::vector<Hold>>([&](Connection& c) -> Result<std::vector<Hold>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT log_index, hidden_until, reason, created FROM holds "
                                    "WHERE log_index = ?"));
      std::vector<uint64_t> sorted = indices;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      std::vector<Hold> out;
      for (uint64_t i : sorted) {
        sqlite3_reset(s);
        Bind(s, 1, int64_t(i));
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) continue;
        if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading holds"));
        out.push_back(Hold{uint64_t(sqlite3_column_int64(s, 0)), sqlite3_column_int64(s, 1), Text(s, 2),
                           sqlite3_column_int64(s, 3)});
      }
      sqlite3_reset(s);
      return out;
    });
  }

  Result<std::vector<Hold>> AllHolds() override {
    return Read<std::vector<Hold>>([&](Connection& c) -> Result<std::vector<Hold>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT log_index, hidden_until, reason, created FROM holds ORDER BY log_index"));
      std::vector<Hold> out;
      for (int rc; (rc = sqlite3_step(s)) != SQLITE_DONE;) {
        if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading holds"));
        out.push_back(Hold{uint64_t(sqlite3_column_int64(s, 0)), sqlite3_column_int64(s, 1), Text(s, 2),
                           sqlite3_column_int64(s, 3)});
      }
      return out;
    });
  }

  Result<std::vector<uint64_t>> TrackerIndex(std::string_view pseudonym) override {
    if (!IsStoredText(pseudonym)) return std::vector<uint64_t>();  // no such key is stored
    return Read<std::vector<uint64_t>>([&](Connection& c) -> Result<std::vector<uint64_t>> {
      FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                          c.Prepare("SELECT log_index FROM tracker_index WHERE pseudonym = ? ORDER BY log_index"));
      Bind(s, 1, pseudonym);
      std::vector<uint64_t> out;
      for (int rc; (rc = sqlite3_step(s)) != SQLITE_DONE;) {
        if (rc != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading the tracker index"));
        out.push_back(uint64_t(sqlite3_column_int64(s, 0)));
      }
      return out;
    });
  }

  Result<Counts> CountAll() override {
    return Read<Counts>([&](Connection& c) -> Result<Counts> {
      Counts out;
      const std::pair<const char*, int64_t*> queries[] = {
          {"SELECT count(*) FROM organisations", &out.organisations},
          {"SELECT count(*) FROM subjects", &out.subjects},
          {"SELECT count(*) FROM cases", &out.cases},
          {"SELECT count(*) FROM participants", &out.participants},
          {"SELECT count(*) FROM records", &out.records},
          {"SELECT count(*) FROM receipts", &out.receipts},
      };
      for (auto [sql, dest] : queries) {
        FB_ASSIGN_OR_RETURN(sqlite3_stmt * s, c.Prepare(sql));
        if (sqlite3_step(s) != SQLITE_ROW) return tl::make_unexpected(c.StepError("counting"));
        *dest = sqlite3_column_int64(s, 0);
      }
      return out;
    });
  }

 private:
  // Inserts or replaces the choice, inside a write.
  static Status PutChoice(Connection& c, int64_t subject_id, const ApplicationChoice& choice) {
    FB_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                        c.Prepare("INSERT INTO application_choices(subject_id, recipient, categories, "
                                  "recorded_by, recorded_on) VALUES(?,?,?,?,?) ON CONFLICT(subject_id) "
                                  "DO UPDATE SET recipient=excluded.recipient, categories=excluded.categories, "
                                  "recorded_by=excluded.recorded_by, recorded_on=excluded.recorded_on"));
    Bind(s, 1, subject_id);
    Bind(s, 2, choice.recipient);
    Bind(s, 3, Join(choice.categories));
    Bind(s, 4, choice.recorded_by);
    Bind(s, 5, choice.recorded_on);
    return Done(c, s, "storing the application choice of subject " + std::to_string(subject_id));
  }

  static Status Done(Connection& c, sqlite3_stmt* s, const std::string& what) {
    int rc = sqlite3_step(s);
    Status st = rc == SQLITE_DONE ? Ok() : Status(tl::make_unexpected(c.StepError(what)));
    sqlite3_reset(s);
    return st;
  }

  Status Write(const char*, const std::function<Status(Connection&)>& body) {
    std::lock_guard lock(writer_mu_);
    return body(*writer_);
  }

  // A reader connection from the pool (opened when the pool is empty), and
  // back to it, its statements reset.
  Result<std::unique_ptr<Connection>> Borrow() {
    {
      std::lock_guard lock(pool_mu_);
      if (!pool_.empty()) {
        std::unique_ptr<Connection> conn = std::move(pool_.back());
        pool_.pop_back();
        return conn;
      }
    }
    return Connection::Open(path_, false);
  }
  void GiveBack(std::unique_ptr<Connection> conn) {
    conn->ResetAll();
    std::lock_guard lock(pool_mu_);
    pool_.push_back(std::move(conn));
  }

  Status ReadTogether(const std::function<Status()>& body) override {
    if (pinned_.store == this) return body();  // already inside one
    FB_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Borrow());
    Status st = conn->Run("BEGIN");
    if (st) {
      // Pinned for this thread while `body` runs, and unpinned however it
      // leaves (an exception must not leave a pointer to a pooled connection).
      struct Pin {
        Pinned saved;
        Pin(const SqliteStore* store, Connection* c) : saved(pinned_) { pinned_ = {store, c}; }
        ~Pin() { pinned_ = saved; }
      };
      try {
        Pin pin(this, conn.get());
        st = body();
      } catch (...) {
        (void)conn->Run("ROLLBACK");
        GiveBack(std::move(conn));
        throw;
      }
      Status end = conn->Run("COMMIT");
      if (st && !end) st = end;
    }
    GiveBack(std::move(conn));
    return st;
  }

  // Runs `body` on a pooled reader connection (or, inside ReadTogether, on
  // that one's connection and transaction).
  template <class T>
  Result<T> Read(const std::function<Result<T>(Connection&)>& body) {
    if (pinned_.store == this) return body(*pinned_.conn);
    FB_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Borrow());
    Result<T> out = body(*conn);
    GiveBack(std::move(conn));
    return out;
  }

  // The connection ReadTogether holds for this thread.
  struct Pinned {
    const SqliteStore* store = nullptr;
    Connection* conn = nullptr;
  };
  static thread_local Pinned pinned_;

  std::string path_;
  std::recursive_mutex writer_mu_;
  std::unique_ptr<Connection> writer_;
  bool in_bulk_ = false;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> pool_;
};

thread_local SqliteStore::Pinned SqliteStore::pinned_;

Status Migrate(Connection& c) {
  FB_RETURN_IF_ERROR(c.Exec("PRAGMA journal_mode=WAL"));
  FB_ASSIGN_OR_RETURN(sqlite3_stmt * s, c.Prepare("PRAGMA user_version"));
  if (sqlite3_step(s) != SQLITE_ROW) return tl::make_unexpected(c.StepError("reading version"));
  int version = sqlite3_column_int(s, 0);
  sqlite3_reset(s);
  if (version > kSchemaVersion) {
    return tl::make_unexpected(FailedPrecondition(
        "store schema version " + std::to_string(version) + " is newer than this build's " +
        std::to_string(kSchemaVersion)));
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    FB_RETURN_IF_ERROR(c.Exec("BEGIN IMMEDIATE"));
    Status st = c.Exec(kMigrations[v]);
    if (st) st = c.Exec(("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
    if (!st) {
      (void)c.Exec("ROLLBACK");
      return tl::make_unexpected(st.error().WithContext("migrating store to version " +
                                                        std::to_string(v + 1)));
    }
    FB_RETURN_IF_ERROR(c.Exec("COMMIT"));
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  FB_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer, Connection::Open(path, true));
  FB_RETURN_IF_ERROR(Migrate(*writer));
  return std::unique_ptr<Store>(new SqliteStore(path, std::move(writer)));
}

}  // namespace firebreak::store

namespace firebreak::store {

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return OpenPostgresStore(url);
  }
  if (url.find("://") != std::string::npos) {
    return tl::make_unexpected(InvalidArgument("`" + url.substr(0, url.find("://")) +
                                               "` stores are not known; give an SQLite file path"));
  }
  return OpenSqliteStore(url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url);
}

}  // namespace firebreak::store
