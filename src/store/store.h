// Front door of `store`: what the holder knows. Organisations and their
// credentials, subjects (people in the holder's records) with the facts of
// DESIGN §2, cases and the subjects' roles in them, records collected in a
// capacity (role + case) whose fields a field map assigns to data
// categories, and the receipts handed out for decisions.
//
// Three implementations behind one narrow interface: SQLite embedded (WAL,
// foreign keys, versioned migrations) for a single gateway, PostgreSQL
// (SERIALIZABLE transactions, retried) for a server several nodes can share,
// and an in-memory twin for tests.
// The store speaks codes as strings; it knows no policy schema.
//
// Error model: every database failure is an `Error` (kIo, kDataLoss,
// kInvalidArgument for a broken constraint); "not there" is an empty
// optional, never an error.
// Thread model: thread-safe. Reads run concurrently; writes are serialised
// (SQLite: in the process; PostgreSQL: by the server's SERIALIZABLE
// transactions, a conflicting one retried).
//
//   FB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenSqliteStore("force.db"));
//   FB_ASSIGN_OR_RETURN(std::optional<Subject> s, store->FindSubjectByReference("SFK-0001"));
//   FB_ASSIGN_OR_RETURN(std::vector<Participation> cases, store->SubjectCases(s->id));
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace firebreak::store {

// What an authenticated organisation may call.
enum class Scope : uint8_t {
  kRequester,  // an outside body: POST /v1/disclosures
  kHolder,     // the holder's own systems: POST /v1/decisions
  kAdmin,      // the holder's DPO: policy reload
  kAnalyst,    // the holder's analysts: the console, read-only (docs/console.md)
  kOversight,  // an oversight body: the console's oversight views, read-only
  kIntake,     // a trusted third party taking reports: POST /v1/reports
  kAdvocate,   // an advocate organisation: GET /v1/tracker under a person's mandate
};
std::string_view ScopeName(Scope s);
bool ParseScope(std::string_view name, Scope* out);

struct Organisation {
  std::string id;    // e.g. "ie-ice-south"
  std::string type;  // an org_type code, e.g. "home-office-immigration-enforcement"
  std::string name;  // display name
  Scope scope = Scope::kRequester;
};

enum class CredentialKind : uint8_t {
  kCertificate,  // SHA-256 of the client certificate's DER
  kToken,        // SHA-256 of the bearer token; the token itself is never stored
};

// What the subject chose for evidence sent for her own application (X1 of
// domain.md §8.1): the body she named and the data categories she chose,
// recorded by the holder with the date and who took it (like consent). The
// requester never supplies it.
struct ApplicationChoice {
  std::string recipient;                // the organisation id she named ("ukvi-dvilr", her adviser)
  std::vector<std::string> categories;  // category codes she chose
  std::string recorded_by;              // who took the choice (staff id)
  std::string recorded_on;              // YYYY-MM-DD
};

struct Subject {
  int64_t id = 0;          // assigned by the store
  std::string reference;   // the holder's reference, unique ("SFK-000123")
  std::string given_name;
  std::string family_name;
  std::string date_of_birth;  // YYYY-MM-DD
  std::string concern = "none";  // none, doubts-only, confirmed-record, self-disclosed
  bool regularisation_pending = false;
  bool subject_initiated = false;
  bool consent_to_ie = false;
  std::vector<std::string> flags;          // domestic-abuse, child, ...
  std::vector<std::string> service_roles;  // roles outside any case: patient, pupil, ...
  std::optional<ApplicationChoice> application;  // none recorded: X1 never applies
};

struct Case {
  std::string id;      // the holder's crime reference
  std::string type;    // case_type code
  std::string status;  // case_status code
  std::vector<std::string> flags = {};  // flag codes on the case (domestic-abuse on an assault, ...)
};

// A subject's role in one case, with the case's type and status.
struct Participation {
  std::string case_id;
  std::string case_type;
  std::string case_status;
  std::string role;
  std::vector<std::string> case_flags = {};
};

struct Field {
  std::string name;   // mapped to a category by the field map
  std::string value;
};

// Data about one subject, collected in one capacity.
struct Record {
  int64_t id = 0;  // assigned by the store
  int64_t subject_id = 0;
  std::string kind;          // "victim-statement", "custody-record", ...
  std::string collected_as;  // the role it was collected in
  std::string case_id;       // empty when not collected for a case
  std::vector<Field> fields;
  // Filled on reads when `case_id` is set.
  std::string case_type;
  std::string case_status;
};

struct Receipt {
  std::string id;  // opaque, unguessable
  uint64_t log_index = 0;
  std::string org_id;  // who it was issued to
  int64_t created = 0;  // Unix seconds
};

// A report taken through the safe reporting pathway (POST /v1/reports):
// which subject, case and intake organisation, and how many fields were
// dropped (immigration fields are never stored). No free text.
struct Report {
  std::string id;  // random, opaque
  int64_t subject_id = 0;
  std::string case_id;
  std::string org_id;      // the intake organisation
  int64_t created = 0;     // Unix seconds
  int64_t dropped_fields = 0;
};

// A secret that opens the data-subject tracker for one subject. Only its
// SHA-256 (hex) is stored. `kind`: "report" (the receipt token of a report),
// "holder" (issued by the holder to a known subject) or "mandate" (held by
// the advocate organisation `org_id` on the subject's behalf).
struct TrackerToken {
  std::string digest;
  int64_t subject_id = 0;
  std::string kind;
  std::string org_id;  // "mandate" only: the advocate organisation
  int64_t created = 0;
  int64_t revoked = 0;  // Unix seconds; 0: in force
};

// A covert hold: the tracker does not show log entry `log_index` before
// `hidden_until` (Unix seconds). `reason` is a code, never free text.
struct Hold {
  uint64_t log_index = 0;
  int64_t hidden_until = 0;
  std::string reason;
  int64_t created = 0;
};

struct Counts {
  int64_t organisations = 0, subjects = 0, cases = 0, participants = 0, records = 0,
          receipts = 0;
};

// Canonical identity key for matching: names case-folded with runs of
// non-letters collapsed to one space, then the date of birth.
// kInvalidArgument unless `choice` names a recipient, who took it and a
// YYYY-MM-DD date, and its text passes CheckStoredText. Shared by the
// backends.
// The longest organisation id a subject's application choice may name, and
// the most categories she may choose: the choice is sealed into every
// decision log entry about her, whose size is fixed (docs/log-format.md).
inline constexpr size_t kMaxRecipientLength = 64;
inline constexpr size_t kMaxChosenCategories = 8;
Status CheckApplicationChoice(const ApplicationChoice& choice);

std::string IdentityKey(std::string_view given_name, std::string_view family_name,
                        std::string_view date_of_birth);

// What every backend refuses at its write boundary, before anything is
// written, so that nothing stored fails to read back as it was written:
// text that is not valid UTF-8 (record fields are kept as JSON and could not
// be parsed again; PostgreSQL refuses such text), text holding U+0000
// (PostgreSQL's text ends at it), and in a list of codes (flags, roles,
// categories; kept comma-separated) a code that is empty or holds a comma.
// kInvalidArgument naming the field and where the fault is, never the text
// itself, e.g. "record field `given_name` is not valid UTF-8 (byte 0xff at
// offset 3)". Shared by the backends; callers may run them first to answer
// bad input without touching the store.
Status CheckStoredText(std::string_view what, std::string_view text);
// What CheckStoredText accepts. Lookups by a key that is not (a reference,
// an id, a digest, a pseudonym, an identity holding a NUL or bytes that are
// not UTF-8) find nothing on every backend, without asking the database
// (PostgreSQL would refuse the key, or cut it short at the NUL and find
// another).
bool IsStoredText(std::string_view text);
Status CheckWritable(const Organisation& org);
Status CheckWritable(const Subject& subject);  // its application choice too
Status CheckWritable(const Case& c);
Status CheckWritable(const Record& record);
Status CheckWritable(const Receipt& receipt);
Status CheckWritable(const Report& report);
Status CheckWritable(const TrackerToken& token);
Status CheckWritable(const Hold& hold);

class Store {
 public:
  virtual ~Store() = default;

  // ---- Writes. kAlreadyExists for a duplicate key, kInvalidArgument for a
  // reference to something that does not exist.
  virtual Status PutOrganisation(const Organisation& org) = 0;
  virtual Status AddCredential(std::string_view org_id, CredentialKind kind,
                               std::string_view sha256_hex) = 0;
  virtual Status SetFieldCategory(std::string_view field, std::string_view category) = 0;
  virtual Result<int64_t> AddSubject(const Subject& subject) = 0;
  virtual Status PutCase(const Case& c) = 0;
  // Records (or replaces) the subject's application choice; kInvalidArgument
  // for an unknown subject or a choice without recipient, recorder or date.
  virtual Status SetApplicationChoice(int64_t subject_id, const ApplicationChoice& choice) = 0;
  virtual Status AddParticipant(std::string_view case_id, int64_t subject_id,
                                std::string_view role) = 0;
  virtual Result<int64_t> AddRecord(const Record& record) = 0;
  virtual Status PutReceipt(const Receipt& receipt) = 0;
  // Reporting pathway and tracker (schema version 3).
  virtual Status PutReport(const Report& report) = 0;
  // kAlreadyExists for a digest already stored.
  virtual Status PutTrackerToken(const TrackerToken& token) = 0;
  // Marks the token revoked at `when`; kNotFound if no such digest.
  virtual Status RevokeTrackerToken(std::string_view digest, int64_t when) = 0;
  // Adds or replaces the hold on `hold.log_index`.
  virtual Status PutHold(const Hold& hold) = 0;
  // Notes that log entry `log_index` concerns the subject whose pseudonym
  // is `pseudonym` (idempotent): the tracker's index.
  virtual Status AddTrackerIndex(std::string_view pseudonym, uint64_t log_index) = 0;
  // Runs `body` (which calls the writes above) as one transaction: all of its
  // writes or none. Other writers wait (SQLite) or conflict and are retried
  // (PostgreSQL, where `body` itself may run again from the start: keep its
  // effects outside the store idempotent, and return the first error of a
  // write rather than carry on past it).
  virtual Status Bulk(const std::function<Status()>& body) = 0;
  // Bulk, durable on return even across a power cut (SQLite: that one
  // transaction with synchronous=FULL; PostgreSQL commits are durable).
  virtual Status BulkDurable(const std::function<Status()>& body) { return Bulk(body); }

  // ---- Reads.
  // Runs `body` so that the reads it makes on this thread see one snapshot
  // of the store (one read transaction): a subject's cases and records
  // agree with each other and with the subject. Cheaper, too, than one
  // transaction per read. Do not write inside `body`.
  virtual Status ReadTogether(const std::function<Status()>& body) = 0;
  // A number that changes, in the same transaction, with every write to
  // what an authentication or a decision reads (organisations, credentials,
  // the field map, subjects, cases, participants, records, application
  // choices), whichever program writes it; nullopt where the backend cannot
  // tell cheaply (PostgreSQL), and then nothing read may be cached. A cache
  // reads the stamp before the data it keeps: data read under stamp S is
  // current while the stamp is still S.
  virtual Result<std::optional<uint64_t>> ChangeStamp() { return std::optional<uint64_t>(); }
  virtual Result<std::optional<Organisation>> FindOrganisationByCredential(
      CredentialKind kind, std::string_view sha256_hex) = 0;
  virtual Result<std::optional<Organisation>> GetOrganisation(std::string_view id) = 0;
  virtual Result<std::optional<Subject>> FindSubjectByReference(std::string_view reference) = 0;
  // Subjects whose IdentityKey equals that of the query, by id.
  virtual Result<std::vector<Subject>> MatchIdentity(std::string_view given_name,
                                                     std::string_view family_name,
                                                     std::string_view date_of_birth) = 0;
  // The subject's roles in cases, ordered by case id then role.
  virtual Result<std::vector<Participation>> SubjectCases(int64_t subject_id) = 0;
  // The subject's records by id, with case type and status filled in.
  virtual Result<std::vector<Record>> SubjectRecords(int64_t subject_id) = 0;
  // field name → category.
  virtual Result<std::map<std::string, std::string>> FieldCategories() = 0;
  virtual Result<std::optional<Receipt>> GetReceipt(std::string_view id) = 0;
  virtual Result<std::optional<Report>> GetReport(std::string_view id) = 0;
  // The token with this digest, revoked or not.
  virtual Result<std::optional<TrackerToken>> FindTrackerToken(std::string_view digest) = 0;
  // Every token of the subject, by creation time then digest.
  virtual Result<std::vector<TrackerToken>> SubjectTrackerTokens(int64_t subject_id) = 0;
  virtual Result<std::optional<Subject>> GetSubject(int64_t id) = 0;
  // Holds on any of `indices` (in index order).
  virtual Result<std::vector<Hold>> HoldsFor(const std::vector<uint64_t>& indices) = 0;
  // Every hold, by log index (the holder's metrics).
  virtual Result<std::vector<Hold>> AllHolds() = 0;
  // The log indices noted for `pseudonym`, ascending.
  virtual Result<std::vector<uint64_t>> TrackerIndex(std::string_view pseudonym) = 0;
  virtual Result<Counts> CountAll() = 0;
};

// Opens (creating if needed) the SQLite store at `path` and brings its schema
// up to the current version. kFailedPrecondition if the file was written by
// a newer version.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

// Opens (creating the tables if needed) the PostgreSQL store a libpq URL
// names, e.g. "postgresql://firebreak@db.example:5432/force" or
// "postgresql:///force?host=/run/pg", and brings its schema up to the
// current version. kUnavailable (naming host and database, never the
// password) if the server cannot be reached; kInvalidArgument for a URL
// libpq cannot parse; kFailedPrecondition for a newer schema.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url);

// Opens the store a configuration names: a file path (or "sqlite:PATH") is
// the embedded SQLite store, "postgresql://…" (or "postgres://…") the
// PostgreSQL store; any other "scheme://" is a clear error.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url);

// The in-memory twin: same contract, nothing persisted.
std::unique_ptr<Store> NewMemoryStore();

}  // namespace firebreak::store
