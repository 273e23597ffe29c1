// The PostgreSQL store (issue 14): the same contract as the SQLite store, on
// a server several gateway nodes can share.
//
// libpq through the shared thin layer of pg/ (firebreak::pg), no ORM. A
// pool of connections; every operation borrows one and runs one
// SERIALIZABLE transaction (pg::RunTransaction), retried (a bounded number
// of times, with a short growing pause) when the server reports a
// serialisation failure (SQLSTATE 40001) or a deadlock (40P01).
// The SQL stays within what CockroachDB also speaks: no advisory locks, no
// LISTEN/NOTIFY, no triggers, no SERIAL or sequences. Subject and record ids
// come from a counter row updated inside the inserting transaction, so they
// are dense, like SQLite's.
//
// Errors: a broken constraint is kAlreadyExists / kInvalidArgument as in
// SQLite; a lost connection, an unreachable server or retries exhausted are
// kUnavailable (the gateway answers 503 and discloses nothing). No message
// ever carries the password of the URL.
#include <mutex>
#include <optional>
#include <utility>

#include <boost/json.hpp>

#include "pg/pg.h"
#include "store/store.h"

namespace firebreak::store {
namespace {

namespace json = boost::json;

// Versioned migrations, the PostgreSQL dialect of sqlite_store.cc's: the same
// tables, columns and meaning. Migration i brings the schema from version i
// to i+1 (the one row of `schema_version`). Never edit a shipped migration.
constexpr const char* kMigrations[] = {
    // 0 → 1: the first schema.
    R"sql(
CREATE TABLE organisations(
  id TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, scope TEXT NOT NULL);
CREATE TABLE credentials(
  kind INT8 NOT NULL, digest TEXT NOT NULL,
  org_id TEXT NOT NULL REFERENCES organisations(id),
  PRIMARY KEY(kind, digest));
CREATE TABLE field_categories(field TEXT PRIMARY KEY, category TEXT NOT NULL);
CREATE TABLE counters(name TEXT PRIMARY KEY, last INT8 NOT NULL);
INSERT INTO counters(name, last) VALUES ('subjects', 0), ('records', 0);
CREATE TABLE subjects(
  id INT8 PRIMARY KEY, reference TEXT NOT NULL UNIQUE,
  given_name TEXT NOT NULL, family_name TEXT NOT NULL, date_of_birth TEXT NOT NULL,
  identity_key TEXT NOT NULL, concern TEXT NOT NULL,
  regularisation_pending INT8 NOT NULL, subject_initiated INT8 NOT NULL,
  consent_to_ie INT8 NOT NULL, flags TEXT NOT NULL, service_roles TEXT NOT NULL);
CREATE INDEX subjects_identity ON subjects(identity_key);
CREATE TABLE cases(id TEXT PRIMARY KEY, type TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE participants(
  subject_id INT8 NOT NULL REFERENCES subjects(id),
  case_id TEXT NOT NULL REFERENCES cases(id), role TEXT NOT NULL,
  PRIMARY KEY(subject_id, case_id, role));
CREATE TABLE records(
  id INT8 PRIMARY KEY, subject_id INT8 NOT NULL REFERENCES subjects(id),
  kind TEXT NOT NULL, collected_as TEXT NOT NULL, case_id TEXT REFERENCES cases(id),
  fields TEXT NOT NULL);
CREATE INDEX records_subject ON records(subject_id);
CREATE TABLE receipts(
  id TEXT PRIMARY KEY, log_index INT8 NOT NULL,
  org_id TEXT NOT NULL REFERENCES organisations(id), created INT8 NOT NULL);
)sql",
    // 1 → 2: flags on cases and the subject's own choices for evidence sent
    // for her application (X1).
    R"sql(
ALTER TABLE cases ADD COLUMN flags TEXT NOT NULL DEFAULT '';
CREATE TABLE application_choices(
  subject_id INT8 PRIMARY KEY REFERENCES subjects(id),
  recipient TEXT NOT NULL, categories TEXT NOT NULL,
  recorded_by TEXT NOT NULL, recorded_on TEXT NOT NULL);
)sql",
    // 2 → 3: the safe reporting pathway and the data-subject tracker.
    R"sql(
CREATE TABLE reports(
  id TEXT PRIMARY KEY, subject_id INT8 NOT NULL REFERENCES subjects(id),
  case_id TEXT NOT NULL REFERENCES cases(id),
  org_id TEXT NOT NULL REFERENCES organisations(id),
  created INT8 NOT NULL, dropped_fields INT8 NOT NULL);
CREATE TABLE tracker_tokens(
  digest TEXT PRIMARY KEY, subject_id INT8 NOT NULL REFERENCES subjects(id),
  kind TEXT NOT NULL, org_id TEXT REFERENCES organisations(id),
  created INT8 NOT NULL, revoked INT8 NOT NULL);
CREATE INDEX tracker_tokens_subject ON tracker_tokens(subject_id);
CREATE TABLE holds(
  log_index INT8 PRIMARY KEY, hidden_until INT8 NOT NULL,
  reason TEXT NOT NULL, created INT8 NOT NULL);
CREATE TABLE tracker_index(
  pseudonym TEXT NOT NULL, log_index INT8 NOT NULL,
  PRIMARY KEY(pseudonym, log_index));
)sql",
};

using pg::Connection;
using pg::Param;
using pg::Rows;

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

std::string Str(int64_t v) { return std::to_string(v); }

// Read from `subjects s LEFT JOIN application_choices a` (kSubjectFrom).
constexpr const char kSubjectColumns[] =
    "s.id, s.reference, s.given_name, s.family_name, s.date_of_birth, s.concern, "
    "s.regularisation_pending, s.subject_initiated, s.consent_to_ie, s.flags, s.service_roles, "
    "a.recipient, a.categories, a.recorded_by, a.recorded_on";
constexpr const char kSubjectFrom[] =
    " FROM subjects s LEFT JOIN application_choices a ON a.subject_id = s.id";

Result<Subject> ReadSubject(const Rows& r, int row) {
  Subject out;
  FB_ASSIGN_OR_RETURN(out.id, r.int64(row, 0));
  out.reference = r.text(row, 1);
  out.given_name = r.text(row, 2);
  out.family_name = r.text(row, 3);
  out.date_of_birth = r.text(row, 4);
  out.concern = r.text(row, 5);
  out.regularisation_pending = r.text(row, 6) != "0";
  out.subject_initiated = r.text(row, 7) != "0";
  out.consent_to_ie = r.text(row, 8) != "0";
  out.flags = Split(r.text(row, 9));
  out.service_roles = Split(r.text(row, 10));
  if (!r.null(row, 11)) {
    out.application = ApplicationChoice{r.text(row, 11), Split(r.text(row, 12)), r.text(row, 13), r.text(row, 14)};
  }
  return out;
}

Result<std::optional<Organisation>> ReadOrganisation(const Rows& r) {
  if (r.size() == 0) return std::optional<Organisation>();
  Organisation o{r.text(0, 0), r.text(0, 1), r.text(0, 2), Scope::kRequester};
  if (!ParseScope(r.text(0, 3), &o.scope)) {
    return tl::make_unexpected(DataLoss("organisation `" + o.id + "` has an unknown scope"));
  }
  return std::optional<Organisation>(std::move(o));
}

// A connection for the pool once the store is open: a server that cannot be
// reached then is named, with no more detail.
Result<std::unique_ptr<Connection>> OpenBorrowed(const pg::Endpoint& at) {
  auto conn = Connection::Open(at, {});
  if (!conn) return tl::make_unexpected(Unavailable("the PostgreSQL store " + at.where + " cannot be reached"));
  return conn;
}

class PgStore : public Store {
 public:
  PgStore(pg::Endpoint endpoint, std::unique_ptr<Connection> first)
      : endpoint_(std::move(endpoint)), pool_([this] { return OpenBorrowed(endpoint_); }) {
    pool_.GiveBack(std::move(first));
  }

  Status PutOrganisation(const Organisation& org) override {
    FB_RETURN_IF_ERROR(CheckWritable(org));
    return Write([&](Connection& c) -> Status {
      return c.Exec("storing organisation",
                      "INSERT INTO organisations(id, type, name, scope) VALUES($1,$2,$3,$4) "
                      "ON CONFLICT(id) DO UPDATE SET type=excluded.type, name=excluded.name, "
                      "scope=excluded.scope",
                      {org.id, org.type, org.name, std::string(ScopeName(org.scope))});
    });
  }

  Status AddCredential(std::string_view org_id, CredentialKind kind, std::string_view sha256_hex) override {
    FB_RETURN_IF_ERROR(CheckStoredText("credential `org_id`", org_id));
    FB_RETURN_IF_ERROR(CheckStoredText("credential digest", sha256_hex));
    return Write([&](Connection& c) -> Status {
      return c.Exec("storing credential", "INSERT INTO credentials(kind, digest, org_id) VALUES($1,$2,$3)",
                      {Str(int64_t(kind)), std::string(sha256_hex), std::string(org_id)});
    });
  }

  Status SetFieldCategory(std::string_view field, std::string_view category) override {
    FB_RETURN_IF_ERROR(CheckStoredText("field map `field`", field));
    FB_RETURN_IF_ERROR(CheckStoredText("field map `category`", category));
    return Write([&](Connection& c) -> Status {
      return c.Exec("storing field category",
                      "INSERT INTO field_categories(field, category) VALUES($1,$2) "
                      "ON CONFLICT(field) DO UPDATE SET category=excluded.category",
                      {std::string(field), std::string(category)});
    });
  }

  Result<int64_t> AddSubject(const Subject& subject) override {
    FB_RETURN_IF_ERROR(CheckWritable(subject));  // its application choice too
    int64_t id = 0;
    FB_RETURN_IF_ERROR(Write([&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(id, NextId(c, "subjects"));
      FB_RETURN_IF_ERROR(c.Exec(
          "storing subject `" + subject.reference + "`",
          "INSERT INTO subjects(id, reference, given_name, family_name, date_of_birth, identity_key, concern, "
          "regularisation_pending, subject_initiated, consent_to_ie, flags, service_roles) "
          "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
          {Str(id), subject.reference, subject.given_name, subject.family_name, subject.date_of_birth,
           IdentityKey(subject.given_name, subject.family_name, subject.date_of_birth), subject.concern,
           Str(subject.regularisation_pending), Str(subject.subject_initiated), Str(subject.consent_to_ie),
           Join(subject.flags), Join(subject.service_roles)}));
      if (subject.application) return PutChoice(c, id, *subject.application);
      return Ok();
    }));
    return id;
  }

  Status PutCase(const Case& k) override {
    FB_RETURN_IF_ERROR(CheckWritable(k));
    return Write([&](Connection& c) -> Status {
      return c.Exec("storing case `" + k.id + "`",
                      "INSERT INTO cases(id, type, status, flags) VALUES($1,$2,$3,$4) "
                      "ON CONFLICT(id) DO UPDATE SET type=excluded.type, status=excluded.status, "
                      "flags=excluded.flags",
                      {k.id, k.type, k.status, Join(k.flags)});
    });
  }

  Status SetApplicationChoice(int64_t subject_id, const ApplicationChoice& choice) override {
    FB_RETURN_IF_ERROR(CheckApplicationChoice(choice));
    return Write([&](Connection& c) -> Status { return PutChoice(c, subject_id, choice); });
  }

  Status AddParticipant(std::string_view case_id, int64_t subject_id, std::string_view role) override {
    FB_RETURN_IF_ERROR(CheckStoredText("participant `case_id`", case_id));
    FB_RETURN_IF_ERROR(CheckStoredText("participant `role`", role));
    return Write([&](Connection& c) -> Status {
      return c.Exec("storing participant", "INSERT INTO participants(subject_id, case_id, role) VALUES($1,$2,$3)",
                      {Str(subject_id), std::string(case_id), std::string(role)});
    });
  }

  Result<int64_t> AddRecord(const Record& record) override {
    FB_RETURN_IF_ERROR(CheckWritable(record));
    int64_t id = 0;
    FB_RETURN_IF_ERROR(Write([&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(id, NextId(c, "records"));
      return c.Exec("storing record",
                      "INSERT INTO records(id, subject_id, kind, collected_as, case_id, fields) "
                      "VALUES($1,$2,$3,$4,$5,$6)",
                      {Str(id), Str(record.subject_id), record.kind, record.collected_as,
                       record.case_id.empty() ? Param() : Param(record.case_id), EncodeFields(record.fields)});
    }));
    return id;
  }

  Status PutReceipt(const Receipt& receipt) override {
    FB_RETURN_IF_ERROR(CheckWritable(receipt));
    return Write([&](Connection& c) -> Status {
      return c.Exec("storing receipt", "INSERT INTO receipts(id, log_index, org_id, created) VALUES($1,$2,$3,$4)",
                      {receipt.id, Str(int64_t(receipt.log_index)), receipt.org_id, Str(receipt.created)});
    });
  }

  Status PutReport(const Report& r) override {
    FB_RETURN_IF_ERROR(CheckWritable(r));
    return Write([&](Connection& c) -> Status {
      return c.Exec("storing report",
                        "INSERT INTO reports(id, subject_id, case_id, org_id, created, dropped_fields) "
                        "VALUES($1,$2,$3,$4,$5,$6)",
                        {r.id, Str(r.subject_id), r.case_id, r.org_id, Str(r.created), Str(r.dropped_fields)});
    });
  }

  Status PutTrackerToken(const TrackerToken& t) override {
    FB_RETURN_IF_ERROR(CheckWritable(t));
    return Write([&](Connection& c) -> Status {
      return c.Exec("storing tracker token",
                        "INSERT INTO tracker_tokens(digest, subject_id, kind, org_id, created, revoked) "
                        "VALUES($1,$2,$3,$4,$5,$6)",
                        {t.digest, Str(t.subject_id), t.kind, t.org_id.empty() ? Param() : Param(t.org_id),
                         Str(t.created), Str(t.revoked)});
    });
  }

  Status RevokeTrackerToken(std::string_view digest, int64_t when) override {
    FB_RETURN_IF_ERROR(CheckStoredText("tracker token digest", digest));
    return Write([&](Connection& c) -> Status {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("revoking tracker token",
                                            "UPDATE tracker_tokens SET revoked = $1 WHERE digest = $2 RETURNING digest",
                                            {Str(when), std::string(digest)}));
      if (r.size() == 0) return tl::make_unexpected(NotFound("no such tracker token"));
      return Ok();
    });
  }

  Status PutHold(const Hold& h) override {
    FB_RETURN_IF_ERROR(CheckWritable(h));
    return Write([&](Connection& c) -> Status {
      return c.Exec("storing hold",
                        "INSERT INTO holds(log_index, hidden_until, reason, created) VALUES($1,$2,$3,$4) "
                        "ON CONFLICT(log_index) DO UPDATE SET hidden_until=excluded.hidden_until, "
                        "reason=excluded.reason, created=excluded.created",
                        {Str(int64_t(h.log_index)), Str(h.hidden_until), h.reason, Str(h.created)});
    });
  }

  Status AddTrackerIndex(std::string_view pseudonym, uint64_t log_index) override {
    FB_RETURN_IF_ERROR(CheckStoredText("tracker index `pseudonym`", pseudonym));
    return Write([&](Connection& c) -> Status {
      return c.Exec("indexing a log entry for the tracker",
                        "INSERT INTO tracker_index(pseudonym, log_index) VALUES($1,$2) ON CONFLICT DO NOTHING",
                        {std::string(pseudonym), Str(int64_t(log_index))});
    });
  }

  // One read-write transaction around `body`'s writes, run again from the
  // start (a bounded number of times) on a serialisation failure.
  Status Bulk(const std::function<Status()>& body) override {
    if (pinned_.store == this) {
      if (pinned_.read_only) {
        return tl::make_unexpected(Internal("store: a write inside ReadTogether"));
      }
      return body();
    }
    return Transaction(false, [&](Connection&) { return body(); });
  }

  Status ReadTogether(const std::function<Status()>& body) override {
    if (pinned_.store == this) return body();  // already inside one
    return Transaction(true, [&](Connection&) { return body(); });
  }

  Result<std::optional<Organisation>> FindOrganisationByCredential(CredentialKind kind,
                                                                   std::string_view sha256_hex) override {
    if (!IsStoredText(sha256_hex)) return std::optional<Organisation>();  // no such key is stored
    return Read<std::optional<Organisation>>([&](Connection& c) -> Result<std::optional<Organisation>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading organisation",
                                            "SELECT o.id, o.type, o.name, o.scope FROM credentials k "
                                            "JOIN organisations o ON o.id = k.org_id "
                                            "WHERE k.kind = $1 AND k.digest = $2",
                                            {Str(int64_t(kind)), std::string(sha256_hex)}));
      return ReadOrganisation(r);
    });
  }

  Result<std::optional<Organisation>> GetOrganisation(std::string_view id) override {
    if (!IsStoredText(id)) return std::optional<Organisation>();  // no such key is stored
    return Read<std::optional<Organisation>>([&](Connection& c) -> Result<std::optional<Organisation>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading organisation",
                                            "SELECT id, type, name, scope FROM organisations WHERE id = $1",
                                            {std::string(id)}));
      return ReadOrganisation(r);
    });
  }

  Result<std::optional<Subject>> FindSubjectByReference(std::string_view reference) override {
    if (!IsStoredText(reference)) return std::optional<Subject>();  // no such key is stored
    return Read<std::optional<Subject>>([&](Connection& c) -> Result<std::optional<Subject>> {
      static const std::string sql = std::string("SELECT ") + kSubjectColumns + kSubjectFrom + " WHERE s.reference = $1";
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading subject", sql.c_str(), {std::string(reference)}));
      if (r.size() == 0) return std::optional<Subject>();
      FB_ASSIGN_OR_RETURN(Subject s, ReadSubject(r, 0));
      return std::optional<Subject>(std::move(s));
    });
  }

  Result<std::vector<Subject>> MatchIdentity(std::string_view given_name, std::string_view family_name,
                                             std::string_view date_of_birth) override {
    if (!IsStoredText(IdentityKey(given_name, family_name, date_of_birth))) return std::vector<Subject>();
    return Read<std::vector<Subject>>([&](Connection& c) -> Result<std::vector<Subject>> {
      static const std::string sql =
          std::string("SELECT ") + kSubjectColumns + kSubjectFrom + " WHERE s.identity_key = $1 ORDER BY s.id";
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("matching identity", sql.c_str(),
                                            {IdentityKey(given_name, family_name, date_of_birth)}));
      std::vector<Subject> out;
      for (int i = 0; i < r.size(); ++i) {
        FB_ASSIGN_OR_RETURN(Subject s, ReadSubject(r, i));
        out.push_back(std::move(s));
      }
      return out;
    });
  }

  Result<std::vector<Participation>> SubjectCases(int64_t subject_id) override {
    return Read<std::vector<Participation>>([&](Connection& c) -> Result<std::vector<Participation>> {
      // COLLATE "C": ordered by bytes, as SQLite orders, whatever the
      // database's locale.
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading cases",
                                            "SELECT c.id, c.type, c.status, p.role, c.flags FROM participants p "
                                            "JOIN cases c ON c.id = p.case_id WHERE p.subject_id = $1 "
                                            "ORDER BY c.id COLLATE \"C\", p.role COLLATE \"C\"",
                                            {Str(subject_id)}));
      std::vector<Participation> out;
      for (int i = 0; i < r.size(); ++i) {
        out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), Split(r.text(i, 4))});
      }
      return out;
    });
  }

  Result<std::vector<Record>> SubjectRecords(int64_t subject_id) override {
    return Read<std::vector<Record>>([&](Connection& c) -> Result<std::vector<Record>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading records",
                                            "SELECT r.id, r.kind, r.collected_as, r.case_id, r.fields, c.type, "
                                            "c.status FROM records r LEFT JOIN cases c ON c.id = r.case_id "
                                            "WHERE r.subject_id = $1 ORDER BY r.id",
                                            {Str(subject_id)}));
      std::vector<Record> out;
      for (int i = 0; i < r.size(); ++i) {
        Record rec;
        FB_ASSIGN_OR_RETURN(rec.id, r.int64(i, 0));
        rec.subject_id = subject_id;
        rec.kind = r.text(i, 1);
        rec.collected_as = r.text(i, 2);
        rec.case_id = r.text(i, 3);
        FB_ASSIGN_OR_RETURN(rec.fields, DecodeFields(r.text(i, 4)));
        rec.case_type = r.text(i, 5);
        rec.case_status = r.text(i, 6);
        out.push_back(std::move(rec));
      }
      return out;
    });
  }

  Result<std::map<std::string, std::string>> FieldCategories() override {
    using Map = std::map<std::string, std::string>;
    return Read<Map>([&](Connection& c) -> Result<Map> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading field map", "SELECT field, category FROM field_categories"));
      Map out;
      for (int i = 0; i < r.size(); ++i) out[r.text(i, 0)] = r.text(i, 1);
      return out;
    });
  }

  Result<std::optional<Receipt>> GetReceipt(std::string_view id) override {
    if (!IsStoredText(id)) return std::optional<Receipt>();  // no such key is stored
    return Read<std::optional<Receipt>>([&](Connection& c) -> Result<std::optional<Receipt>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading receipt",
                                            "SELECT id, log_index, org_id, created FROM receipts WHERE id = $1",
                                            {std::string(id)}));
      if (r.size() == 0) return std::optional<Receipt>();
      FB_ASSIGN_OR_RETURN(int64_t index, r.int64(0, 1));
      FB_ASSIGN_OR_RETURN(int64_t created, r.int64(0, 3));
      return std::optional<Receipt>(Receipt{r.text(0, 0), uint64_t(index), r.text(0, 2), created});
    });
  }

  Result<std::optional<Report>> GetReport(std::string_view id) override {
    if (!IsStoredText(id)) return std::optional<Report>();  // no such key is stored
    return Read<std::optional<Report>>([&](Connection& c) -> Result<std::optional<Report>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading report",
                                            "SELECT id, subject_id, case_id, org_id, created, dropped_fields "
                                            "FROM reports WHERE id = $1",
                                            {std::string(id)}));
      if (r.size() == 0) return std::optional<Report>();
      Report out{r.text(0, 0), 0, r.text(0, 2), r.text(0, 3), 0, 0};
      FB_ASSIGN_OR_RETURN(out.subject_id, r.int64(0, 1));
      FB_ASSIGN_OR_RETURN(out.created, r.int64(0, 4));
      FB_ASSIGN_OR_RETURN(out.dropped_fields, r.int64(0, 5));
      return std::optional<Report>(std::move(out));
    });
  }

  static Result<TrackerToken> ReadToken(const Rows& r, int row) {
    TrackerToken t{r.text(row, 0), 0, r.text(row, 2), r.null(row, 3) ? "" : r.text(row, 3), 0, 0};
    FB_ASSIGN_OR_RETURN(t.subject_id, r.int64(row, 1));
    FB_ASSIGN_OR_RETURN(t.created, r.int64(row, 4));
    FB_ASSIGN_OR_RETURN(t.revoked, r.int64(row, 5));
    return t;
  }

  Result<std::optional<TrackerToken>> FindTrackerToken(std::string_view digest) override {
    if (!IsStoredText(digest)) return std::optional<TrackerToken>();  // no such key is stored
    return Read<std::optional<TrackerToken>>([&](Connection& c) -> Result<std::optional<TrackerToken>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading tracker token",
                                            "SELECT digest, subject_id, kind, org_id, created, revoked "
                                            "FROM tracker_tokens WHERE digest = $1",
                                            {std::string(digest)}));
      if (r.size() == 0) return std::optional<TrackerToken>();
      FB_ASSIGN_OR_RETURN(TrackerToken t, ReadToken(r, 0));
      return std::optional<TrackerToken>(std::move(t));
    });
  }

  Result<std::vector<TrackerToken>> SubjectTrackerTokens(int64_t subject_id) override {
    return Read<std::vector<TrackerToken>>([&](Connection& c) -> Result<std::vector<TrackerToken>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading tracker tokens",
                                            "SELECT digest, subject_id, kind, org_id, created, revoked "
                                            "FROM tracker_tokens WHERE subject_id = $1 ORDER BY created, digest",
                                            {Str(subject_id)}));
      std::vector<TrackerToken> out;
      for (int i = 0; i < r.size(); ++i) {
        FB_ASSIGN_OR_RETURN(TrackerToken t, ReadToken(r, i));
        out.push_back(std::move(t));
      }
      return out;
    });
  }

  Result<std::optional<Subject>> GetSubject(int64_t id) override {
    return Read<std::optional<Subject>>([&](Connection& c) -> Result<std::optional<Subject>> {
      static const std::string sql = std::string("SELECT ") + kSubjectColumns + kSubjectFrom + " WHERE s.id = $1";
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading subject", sql.c_str(), {Str(id)}));
      if (r.size() == 0) return std::optional<Subject>();
      FB_ASSIGN_OR_RETURN(Subject s, ReadSubject(r, 0));
      return std::optional<Subject>(std::move(s));
    });
  }

  static Result<std::vector<Hold>> ReadHolds(const Rows& r) {
    std::vector<Hold> out;
    for (int i = 0; i < r.size(); ++i) {
      Hold h;
      FB_ASSIGN_OR_RETURN(int64_t index, r.int64(i, 0));
      h.log_index = uint64_t(index);
      FB_ASSIGN_OR_RETURN(h.hidden_until, r.int64(i, 1));
      h.reason = r.text(i, 2);
      FB_ASSIGN_OR_RETURN(h.created, r.int64(i, 3));
      out.push_back(std::move(h));
    }
    return out;
  }

  Result<std::vector<Hold>> HoldsFor(const std::vector<uint64_t>& indices) override {
    return Read<std::vector<Hold>>([&](Connection& c) -> Result<std::vector<Hold>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading holds",
                                            "SELECT log_index, hidden_until, reason, created FROM holds "
                                            "WHERE log_index = ANY($1::INT8[]) ORDER BY log_index",
                                            {pg::Int8Array(indices)}));
      return ReadHolds(r);
    });
  }

  Result<std::vector<Hold>> AllHolds() override {
    return Read<std::vector<Hold>>([&](Connection& c) -> Result<std::vector<Hold>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading holds",
                                            "SELECT log_index, hidden_until, reason, created FROM holds "
                                            "ORDER BY log_index"));
      return ReadHolds(r);
    });
  }

  Result<std::vector<uint64_t>> TrackerIndex(std::string_view pseudonym) override {
    if (!IsStoredText(pseudonym)) return std::vector<uint64_t>();  // no such key is stored
    return Read<std::vector<uint64_t>>([&](Connection& c) -> Result<std::vector<uint64_t>> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("reading the tracker index",
                                            "SELECT log_index FROM tracker_index WHERE pseudonym = $1 "
                                            "ORDER BY log_index",
                                            {std::string(pseudonym)}));
      std::vector<uint64_t> out;
      for (int i = 0; i < r.size(); ++i) {
        FB_ASSIGN_OR_RETURN(int64_t v, r.int64(i, 0));
        out.push_back(uint64_t(v));
      }
      return out;
    });
  }

  Result<Counts> CountAll() override {
    return Read<Counts>([&](Connection& c) -> Result<Counts> {
      FB_ASSIGN_OR_RETURN(Rows r, c.Query("counting",
                                            "SELECT (SELECT count(*) FROM organisations), "
                                            "(SELECT count(*) FROM subjects), (SELECT count(*) FROM cases), "
                                            "(SELECT count(*) FROM participants), (SELECT count(*) FROM records), "
                                            "(SELECT count(*) FROM receipts)"));
      Counts out;
      int64_t* dest[] = {&out.organisations, &out.subjects, &out.cases, &out.participants, &out.records,
                         &out.receipts};
      for (int i = 0; i < 6; ++i) {
        FB_ASSIGN_OR_RETURN(*dest[i], r.int64(0, i));
      }
      return out;
    });
  }

 private:
  // The next id from the counter row `name`, inside the caller's transaction:
  // two writers taking one id conflict, and one of them is retried.
  static Result<int64_t> NextId(Connection& c, const char* name) {
    FB_ASSIGN_OR_RETURN(Rows r, c.Query("assigning an id", "UPDATE counters SET last = last + 1 WHERE name = $1 "
                                                             "RETURNING last",
                                          {std::string(name)}));
    if (r.size() != 1) return tl::make_unexpected(DataLoss(std::string("store: the counter `") + name + "` is missing"));
    return r.int64(0, 0);
  }

  static Status PutChoice(Connection& c, int64_t subject_id, const ApplicationChoice& choice) {
    return c.Exec("storing the application choice of subject " + std::to_string(subject_id),
                    "INSERT INTO application_choices(subject_id, recipient, categories, recorded_by, recorded_on) "
                    "VALUES($1,$2,$3,$4,$5) ON CONFLICT(subject_id) DO UPDATE SET recipient=excluded.recipient, "
                    "categories=excluded.categories, recorded_by=excluded.recorded_by, "
                    "recorded_on=excluded.recorded_on",
                    {Str(subject_id), choice.recipient, Join(choice.categories), choice.recorded_by,
                     choice.recorded_on});
  }

  // Runs `body` in one SERIALIZABLE transaction (READ ONLY for reads) on a
  // connection pinned to this thread, so the store calls `body` makes join
  // it; again from the start on a serialisation failure (even one a call
  // inside swallowed), at most pg::kMaxAttempts times. A connection lost
  // during the transaction is not: a lost COMMIT may have committed, and
  // the writes here (new ids from a counter) are not idempotent.
  Status Transaction(bool read_only, const std::function<Status(Connection&)>& body) {
    pg::TransactionOptions options;
    options.what = "the store's transaction";
    options.read_only = read_only;
    return pg::RunTransaction(pool_, options, [&](Connection& c) -> Status {
      struct Pin {
        Pinned saved;
        Pin(const PgStore* store, Connection* c, bool ro) : saved(pinned_) { pinned_ = {store, c, ro}; }
        ~Pin() { pinned_ = saved; }
      } pin(this, &c, read_only);
      return body(c);
    });
  }

  Status Write(const std::function<Status(Connection&)>& body) {
    if (pinned_.store == this) {
      if (pinned_.read_only) return tl::make_unexpected(Internal("store: a write inside ReadTogether"));
      return body(*pinned_.conn);
    }
    return Transaction(false, body);
  }

  template <class T>
  Result<T> Read(const std::function<Result<T>(Connection&)>& body) {
    if (pinned_.store == this) return body(*pinned_.conn);
    std::optional<T> value;
    FB_RETURN_IF_ERROR(Transaction(true, [&](Connection& c) -> Status {
      Result<T> out = body(c);
      if (!out) return tl::make_unexpected(out.error());
      value = std::move(*out);
      return Ok();
    }));
    return std::move(*value);
  }

  // The connection and transaction a Bulk, ReadTogether or single call holds
  // for this thread. (A serialisation failure a call inside meets marks the
  // connection retryable() until the next BEGIN, even if `body` swallowed
  // the error.)
  struct Pinned {
    const PgStore* store = nullptr;
    Connection* conn = nullptr;
    bool read_only = false;
  };
  static thread_local Pinned pinned_;

  const pg::Endpoint endpoint_;  // the URL, "(host …, database …)", the password to scrub
  pg::Pool pool_;                // every idle connection kept; empties when the server goes away
};

thread_local PgStore::Pinned PgStore::pinned_;

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url) {
  FB_ASSIGN_OR_RETURN(pg::Endpoint at, pg::Endpoint::Parse(url, "the PostgreSQL store"));
  FB_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(at, {}));
  Status st = pg::Migrate(*conn, {.name = "store", .version_table = "schema_version", .migrations = kMigrations});
  if (!st) return tl::make_unexpected(st.error().WithContext("PostgreSQL store " + at.where));
  return std::unique_ptr<Store>(new PgStore(std::move(at), std::move(conn)));
}

}  // namespace firebreak::store
