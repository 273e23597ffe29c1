// The store contract, run against both implementations.
#include "store/store.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <set>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

namespace firebreak::store {
namespace {

// The PostgreSQL server the tests use: FIREBREAK_TEST_PG_URL, which
// scripts/test.sh sets from scripts/pg-local.sh. Empty (and `why` says why)
// when there is none.
std::string TestPgUrl(std::string* why) {
  const char* url = std::getenv("FIREBREAK_TEST_PG_URL");
  if (!url || !*url) {
    *why = "FIREBREAK_TEST_PG_URL is not set: run scripts/test.sh, or start a server with "
           "scripts/pg-local.sh start DIR and export its URL";
    return "";
  }
  if (std::string_view(url).rfind("postgres", 0) != 0) {
    *why = url;
    return "";
  }
  return url;
}

// `url` with its database replaced by `db` (the URLs pg-local.sh prints).
std::string WithDatabase(const std::string& url, const std::string& db) {
  size_t slash = url.find('/', url.find("://") + 3);
  size_t query = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

// Runs one statement on the server of `url` (database administration).
bool PgAdmin(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  bool ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
    PGresult* r = PQexec(c, sql.c_str());
    ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) ADD_FAILURE() << sql << ": " << PQerrorMessage(c);
    PQclear(r);
  } else {
    ADD_FAILURE() << "connecting: " << PQerrorMessage(c);
  }
  PQfinish(c);
  return ok;
}

// The name of the current test's own database on the test server (each
// test creates it fresh and drops it).
std::string TestDatabaseName() {
  std::string name = "t" + std::to_string(getpid()) + "_";
  for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? char(std::tolower(static_cast<unsigned char>(c))) : '_';
  }
  return name.substr(0, 60);
}

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = NewMemoryStore();
    } else if (GetParam() == "postgresql") {
      std::string why;
      std::string base = TestPgUrl(&why);
      if (base.empty()) GTEST_SKIP() << "no PostgreSQL server for the PostgreSQL store tests: " << why;
      db_ = TestDatabaseName();
      ASSERT_TRUE(PgAdmin(base, "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)"));
      ASSERT_TRUE(PgAdmin(base, "CREATE DATABASE " + db_));
      auto s = OpenStore(WithDatabase(base, db_));
      ASSERT_TRUE(s) << s.error().ToString();
      store_ = std::move(*s);
    } else {
      dir_ = std::filesystem::temp_directory_path() /
             ("store_test_" + std::to_string(getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
      std::filesystem::remove_all(dir_);
      std::filesystem::create_directories(dir_);
      auto s = OpenSqliteStore((dir_ / "store.db").string());
      ASSERT_TRUE(s) << s.error().ToString();
      store_ = std::move(*s);
    }
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    std::string why;
    if (!db_.empty()) PgAdmin(TestPgUrl(&why), "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
  }

  int64_t AddPerson(const std::string& ref, const std::string& given, const std::string& family,
                    const std::string& dob) {
    Subject s;
    s.reference = ref;
    s.given_name = given;
    s.family_name = family;
    s.date_of_birth = dob;
    auto id = store_->AddSubject(s);
    EXPECT_TRUE(id) << id.error().ToString();
    return id ? *id : 0;
  }

  std::filesystem::path dir_;
  std::string db_;  // the PostgreSQL test database
  std::unique_ptr<Store> store_;
};

TEST(OpenStoreTest, PathsAreSqliteAndUnknownSchemesAreClearErrors) {
  // Nothing listens on port 1: a clear error naming host and database,
  // never the password.
  auto pg = OpenStore("postgresql://firebreak:s3cret-pw@127.0.0.1:1/force");
  ASSERT_FALSE(pg);
  EXPECT_EQ(pg.error().code(), ErrorCode::kUnavailable);
  const std::string& m = pg.error().message();
  EXPECT_NE(m.find("PostgreSQL"), std::string::npos) << m;
  EXPECT_NE(m.find("127.0.0.1"), std::string::npos) << m;
  EXPECT_NE(m.find("force"), std::string::npos) << m;
  EXPECT_EQ(m.find("s3cret-pw"), std::string::npos) << m;
  auto socket = OpenStore("postgres://firebreak:s3cret-pw@/force?host=/nonexistent-firebreak-dir");
  ASSERT_FALSE(socket);
  EXPECT_NE(socket.error().message().find("/nonexistent-firebreak-dir"), std::string::npos);
  EXPECT_EQ(socket.error().message().find("s3cret-pw"), std::string::npos);
  auto bad = OpenStore("postgresql://firebreak:s3cret-pw@db.example/force?no_such_option=1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument) << bad.error().ToString();
  EXPECT_EQ(bad.error().message().find("s3cret-pw"), std::string::npos);
  auto other = OpenStore("mysql://x/y");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("mysql"), std::string::npos);
  auto dir = std::filesystem::temp_directory_path() / ("open_store_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  EXPECT_TRUE(OpenStore((dir / "a.db").string()));
  EXPECT_TRUE(OpenStore("sqlite:" + (dir / "b.db").string()));
  std::filesystem::remove_all(dir);
}

TEST(IdentityKeyTest, FoldsCaseAndPunctuation) {
  EXPECT_EQ(IdentityKey("Mary-Jane", "O'Neill", "1990-01-02"), "mary jane|o neill|1990-01-02");
  EXPECT_EQ(IdentityKey("  mary jane ", "O NEILL", "1990-01-02"),
            IdentityKey("Mary-Jane", "O'Neill", "1990-01-02"));
  EXPECT_NE(IdentityKey("Mary", "Jane", "1990-01-02"), IdentityKey("Mary Jane", "", "1990-01-02"));
}

TEST_P(StoreTest, OrganisationsAndCredentials) {
  ASSERT_TRUE(store_->PutOrganisation({"ie", "home-office-immigration-enforcement", "IE",
                                       Scope::kRequester}));
  ASSERT_TRUE(store_->AddCredential("ie", CredentialKind::kToken, "aa11"));
  ASSERT_TRUE(store_->AddCredential("ie", CredentialKind::kCertificate, "bb22"));
  auto dup = store_->AddCredential("ie", CredentialKind::kToken, "aa11");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_FALSE(store_->AddCredential("nobody", CredentialKind::kToken, "cc33"));

  auto found = store_->FindOrganisationByCredential(CredentialKind::kToken, "aa11");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, "ie");
  EXPECT_EQ((*found)->type, "home-office-immigration-enforcement");
  EXPECT_EQ((*found)->scope, Scope::kRequester);
  // A token digest is not a certificate digest.
  auto wrong_kind = store_->FindOrganisationByCredential(CredentialKind::kCertificate, "aa11");
  ASSERT_TRUE(wrong_kind);
  EXPECT_FALSE(*wrong_kind);

  // Updating an organisation keeps its credentials.
  ASSERT_TRUE(store_->PutOrganisation({"ie", "home-office-visas", "UKVI", Scope::kHolder}));
  auto again = store_->FindOrganisationByCredential(CredentialKind::kCertificate, "bb22");
  ASSERT_TRUE(again && *again);
  EXPECT_EQ((*again)->type, "home-office-visas");
  EXPECT_EQ((*again)->scope, Scope::kHolder);
  auto none = store_->GetOrganisation("council");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_P(StoreTest, SubjectsCasesRecords) {
  Subject s;
  s.reference = "SFK-1";
  s.given_name = "Ana";
  s.family_name = "Pereira";
  s.date_of_birth = "1988-04-01";
  s.concern = "confirmed-record";
  s.regularisation_pending = true;
  s.flags = {"domestic-abuse", "vulnerable"};
  auto id = store_->AddSubject(s);
  ASSERT_TRUE(id);
  auto dup = store_->AddSubject(s);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);

  ASSERT_TRUE(store_->PutCase({"CR-2", "theft", "charged", {}}));
  ASSERT_TRUE(store_->PutCase({"CR-1", "domestic-abuse", "under-investigation", {}}));
  ASSERT_TRUE(store_->AddParticipant("CR-2", *id, "suspect"));
  ASSERT_TRUE(store_->AddParticipant("CR-1", *id, "victim"));
  EXPECT_FALSE(store_->AddParticipant("CR-404", *id, "victim"));
  EXPECT_FALSE(store_->AddParticipant("CR-1", *id + 100, "victim"));

  Record r;
  r.subject_id = *id;
  r.kind = "victim-statement";
  r.collected_as = "victim";
  r.case_id = "CR-1";
  r.fields = {{"address_line", "1 High St"}, {"phone", "07700 900000"}};
  auto rid = store_->AddRecord(r);
  ASSERT_TRUE(rid);
  Record custody;
  custody.subject_id = *id;
  custody.kind = "custody-record";
  custody.collected_as = "suspect";
  custody.case_id = "CR-2";
  custody.fields = {{"fingerprints", "IDENT1 ref \"x\""}};
  ASSERT_TRUE(store_->AddRecord(custody));
  Record loose;
  loose.subject_id = *id;
  loose.kind = "contact-note";
  loose.collected_as = "victim";
  ASSERT_TRUE(store_->AddRecord(loose));
  Record orphan = loose;
  orphan.case_id = "CR-404";
  EXPECT_FALSE(store_->AddRecord(orphan));

  auto got = store_->FindSubjectByReference("SFK-1");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->id, *id);
  EXPECT_EQ((*got)->concern, "confirmed-record");
  EXPECT_TRUE((*got)->regularisation_pending);
  EXPECT_FALSE((*got)->consent_to_ie);
  EXPECT_EQ((*got)->flags, (std::vector<std::string>{"domestic-abuse", "vulnerable"}));
  EXPECT_TRUE((*got)->service_roles.empty());

  auto cases = store_->SubjectCases(*id);
  ASSERT_TRUE(cases);
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_EQ((*cases)[0].case_id, "CR-1");
  EXPECT_EQ((*cases)[0].case_type, "domestic-abuse");
  EXPECT_EQ((*cases)[0].case_status, "under-investigation");
  EXPECT_EQ((*cases)[0].role, "victim");
  EXPECT_EQ((*cases)[1].role, "suspect");

  // A case's status changes; reads see the new status.
  ASSERT_TRUE(store_->PutCase({"CR-1", "domestic-abuse", "charged", {}}));
  auto records = store_->SubjectRecords(*id);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].id, *rid);
  EXPECT_EQ((*records)[0].case_status, "charged");
  EXPECT_EQ((*records)[0].fields.size(), 2u);
  EXPECT_EQ((*records)[0].fields[0].name, "address_line");
  EXPECT_EQ((*records)[0].fields[0].value, "1 High St");
  EXPECT_EQ((*records)[1].fields[0].value, "IDENT1 ref \"x\"");
  EXPECT_EQ((*records)[1].case_type, "theft");
  EXPECT_EQ((*records)[2].case_id, "");
  EXPECT_EQ((*records)[2].case_type, "");

  auto missing = store_->FindSubjectByReference("SFK-2");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_P(StoreTest, IdentityMatching) {
  int64_t a = AddPerson("R1", "Mary-Jane", "O'Neill", "1990-01-02");
  int64_t b = AddPerson("R2", "Mary Jane", "ONeill", "1990-01-02");
  int64_t c = AddPerson("R3", "mary jane", "o neill", "1990-01-02");
  AddPerson("R4", "Mary Jane", "O'Neill", "1990-01-03");
  auto m = store_->MatchIdentity("MARY JANE", "O'Neill", "1990-01-02");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].id, a);
  EXPECT_EQ((*m)[1].id, c);
  auto m2 = store_->MatchIdentity("Mary Jane", "ONeill", "1990-01-02");
  ASSERT_TRUE(m2);
  ASSERT_EQ(m2->size(), 1u);
  EXPECT_EQ((*m2)[0].id, b);
  auto none = store_->MatchIdentity("Mary", "O'Neill", "1990-01-02");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreTest, FieldMapAndReceipts) {
  ASSERT_TRUE(store_->SetFieldCategory("address_line", "address"));
  ASSERT_TRUE(store_->SetFieldCategory("phone", "contact"));
  ASSERT_TRUE(store_->SetFieldCategory("phone", "identity"));
  auto map = store_->FieldCategories();
  ASSERT_TRUE(map);
  EXPECT_EQ(map->size(), 2u);
  EXPECT_EQ(map->at("phone"), "identity");

  ASSERT_TRUE(store_->PutOrganisation({"ie", "home-office-immigration-enforcement", "IE",
                                       Scope::kRequester}));
  ASSERT_TRUE(store_->PutReceipt({"r-1", 41, "ie", 1700000000}));
  EXPECT_FALSE(store_->PutReceipt({"r-1", 42, "ie", 1700000000}));
  EXPECT_FALSE(store_->PutReceipt({"r-2", 42, "nobody", 1700000000}));
  auto r = store_->GetReceipt("r-1");
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->log_index, 41u);
  EXPECT_EQ((*r)->org_id, "ie");
  EXPECT_EQ((*r)->created, 1700000000);
  auto none = store_->GetReceipt("r-2");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

// Reads inside ReadTogether see one snapshot: a subject added by another
// connection meanwhile is not seen until the next snapshot (SQLite, WAL);
// calls nest; an error from the body is returned.
TEST_P(StoreTest, ReadTogetherSeesOneSnapshot) {
  AddPerson("R-1", "Ann", "Lee", "1990-01-01");
  bool saw_new_inside = true;
  Status st = store_->ReadTogether([&]() -> Status {
    FB_ASSIGN_OR_RETURN(auto first, store_->FindSubjectByReference("R-1"));
    EXPECT_TRUE(first.has_value());
    if (GetParam() != "memory") {
      std::thread writer([&] { AddPerson("R-2", "Bo", "Lee", "1991-01-01"); });
      writer.join();
      FB_ASSIGN_OR_RETURN(auto second, store_->FindSubjectByReference("R-2"));
      saw_new_inside = second.has_value();
    } else {
      saw_new_inside = false;
    }
    return store_->ReadTogether([&]() -> Status {
      FB_ASSIGN_OR_RETURN(auto again, store_->FindSubjectByReference("R-1"));
      EXPECT_TRUE(again.has_value());
      return Ok();
    });
  });
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_FALSE(saw_new_inside);
  if (GetParam() != "memory") {
    auto after = store_->FindSubjectByReference("R-2");
    ASSERT_TRUE(after);
    EXPECT_TRUE(after->has_value());
  }
  Status failed = store_->ReadTogether([]() -> Status { return tl::make_unexpected(NotFound("nothing")); });
  EXPECT_FALSE(failed);
}

TEST_P(StoreTest, BulkIsAllOrNothing) {
  Status ok = store_->Bulk([&]() -> Status {
    for (int i = 0; i < 100; ++i) {
      Subject s;
      s.reference = "B" + std::to_string(i);
      FB_RETURN_IF_ERROR(store_->AddSubject(s));
    }
    return Ok();
  });
  ASSERT_TRUE(ok) << ok.error().ToString();
  Status failed = store_->Bulk([&]() -> Status {
    Subject s;
    s.reference = "C1";
    FB_RETURN_IF_ERROR(store_->AddSubject(s));
    s.reference = "B7";  // duplicate: the whole transaction goes
    FB_RETURN_IF_ERROR(store_->AddSubject(s));
    return Ok();
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::kAlreadyExists);
  auto c1 = store_->FindSubjectByReference("C1");
  ASSERT_TRUE(c1);
  EXPECT_FALSE(*c1);
  auto counts = store_->CountAll();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->subjects, 100);
}

TEST_P(StoreTest, ConcurrentReadersAndWriter) {
  int64_t id = AddPerson("R1", "A", "B", "2000-01-01");
  ASSERT_TRUE(store_->PutCase({"CR-1", "assault", "reported", {}}));
  ASSERT_TRUE(store_->AddParticipant("CR-1", id, "victim"));
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        auto s = store_->FindSubjectByReference("R1");
        auto c = store_->SubjectCases(id);
        if (!s || !*s || !c || c->size() != 1) failures++;
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    Subject s;
    s.reference = "W" + std::to_string(i);
    if (!store_->AddSubject(s)) failures++;
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// Issue 11: the subject's own application choice (X1) and flags on cases.
TEST_P(StoreTest, ApplicationChoiceAndCaseFlags) {
  Subject s;
  s.reference = "APP-1";
  s.subject_initiated = true;
  s.application = ApplicationChoice{"her-adviser", {"identity", "incident"}, "PC 4471", "2026-10-02"};
  auto id = store_->AddSubject(s);
  ASSERT_TRUE(id) << id.error().ToString();
  auto got = store_->FindSubjectByReference("APP-1");
  ASSERT_TRUE(got && *got);
  ASSERT_TRUE((*got)->application.has_value());
  EXPECT_EQ((*got)->application->recipient, "her-adviser");
  EXPECT_EQ((*got)->application->categories, (std::vector<std::string>{"identity", "incident"}));
  EXPECT_EQ((*got)->application->recorded_by, "PC 4471");
  EXPECT_EQ((*got)->application->recorded_on, "2026-10-02");
  // She changes her mind: the choice is replaced, not added to.
  ASSERT_TRUE(store_->SetApplicationChoice(*id, {"ukvi-dvilr", {"case-outcome"}, "PC 12", "2026-11-01"}));
  auto again = store_->FindSubjectByReference("APP-1");
  ASSERT_TRUE(again && *again && (*again)->application);
  EXPECT_EQ((*again)->application->recipient, "ukvi-dvilr");
  EXPECT_EQ((*again)->application->categories, (std::vector<std::string>{"case-outcome"}));
  // A subject with no choice recorded has none.
  int64_t other = AddPerson("APP-2", "A", "B", "1990-01-01");
  auto none = store_->FindSubjectByReference("APP-2");
  ASSERT_TRUE(none && *none);
  EXPECT_FALSE((*none)->application.has_value());
  // A choice needs a recipient, who took it and a date; an unknown subject is refused.
  auto bad = store_->SetApplicationChoice(other, {"", {"identity"}, "PC 1", "2026-10-02"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store_->SetApplicationChoice(other, {"ukvi", {"identity"}, "", "2026-10-02"}));
  auto bad_date = store_->SetApplicationChoice(other, {"ukvi", {"identity"}, "PC 1", "2 Oct 2026"});
  ASSERT_FALSE(bad_date);
  EXPECT_NE(bad_date.error().message().find("YYYY-MM-DD"), std::string::npos);
  EXPECT_FALSE(store_->SetApplicationChoice(other + 1000, {"ukvi", {"identity"}, "PC 1", "2026-10-02"}));
  Subject bad_subject;
  bad_subject.reference = "APP-3";
  bad_subject.application = ApplicationChoice{"ukvi", {}, "PC 1", "tomorrow"};
  EXPECT_FALSE(store_->AddSubject(bad_subject));
  EXPECT_FALSE(store_->FindSubjectByReference("APP-3").value().has_value());

  // Flags on a case come back with the subject's participation.
  ASSERT_TRUE(store_->PutCase({"CR-9", "assault", "charged", {"domestic-abuse"}}));
  ASSERT_TRUE(store_->AddParticipant("CR-9", *id, "victim"));
  auto cases = store_->SubjectCases(*id);
  ASSERT_TRUE(cases);
  ASSERT_EQ(cases->size(), 1u);
  EXPECT_EQ((*cases)[0].case_flags, (std::vector<std::string>{"domestic-abuse"}));
  ASSERT_TRUE(store_->PutCase({"CR-9", "assault", "charged", {}}));
  cases = store_->SubjectCases(*id);
  ASSERT_TRUE(cases);
  EXPECT_TRUE((*cases)[0].case_flags.empty());
}

// A store written by the first schema (version 1) is migrated: its cases
// get no flags and its subjects no application choice.
// The change stamp (what lets the gateway cache authentications and
// subjects): every write to what a decision or an authentication reads
// changes it; the tracker's index, receipts, reports' own rows and reads do
// not. PostgreSQL cannot tell cheaply and says so (nothing is cached).
TEST_P(StoreTest, ChangeStampMovesWithEveryFactWrite) {
  auto stamp = [&]() {
    auto s = store_->ChangeStamp();
    EXPECT_TRUE(s) << s.error().ToString();
    return s ? *s : std::optional<uint64_t>();
  };
  if (GetParam() == "postgresql") {
    EXPECT_FALSE(stamp().has_value());
    return;
  }
  std::optional<uint64_t> last = stamp();
  ASSERT_TRUE(last.has_value());
  auto moved = [&](const char* what) {
    std::optional<uint64_t> now = stamp();
    EXPECT_NE(now, last) << what << " did not change the stamp";
    last = now;
  };
  auto still = [&](const char* what) {
    std::optional<uint64_t> now = stamp();
    EXPECT_EQ(now, last) << what << " changed the stamp";
    last = now;
  };
  ASSERT_TRUE(store_->PutOrganisation({"org-a", "police", "A", Scope::kRequester}));
  moved("an organisation");
  ASSERT_TRUE(store_->AddCredential("org-a", CredentialKind::kToken, std::string(64, 'a')));
  moved("a credential");
  ASSERT_TRUE(store_->SetFieldCategory("postcode", "address"));
  moved("the field map");
  int64_t id = AddPerson("ST-1", "Ana", "Lima", "1990-01-01");
  moved("a subject");
  ASSERT_TRUE(store_->PutCase({"CR-9", "assault", "reported", {}}));
  moved("a case");
  ASSERT_TRUE(store_->AddParticipant("CR-9", id, "victim"));
  moved("a participant");
  Record r;
  r.subject_id = id;
  r.kind = "statement";
  r.collected_as = "victim";
  r.case_id = "CR-9";
  ASSERT_TRUE(store_->AddRecord(r));
  moved("a record");
  ASSERT_TRUE(store_->SetApplicationChoice(id, {"home-office-ukvi", {"identity"}, "dpo", "2026-01-01"}));
  moved("an application choice");
  ASSERT_TRUE(store_->FindSubjectByReference("ST-1"));
  ASSERT_TRUE(store_->SubjectRecords(id));
  still("reads");
  ASSERT_TRUE(store_->AddTrackerIndex(std::string(64, 'b'), 7));
  still("the tracker's index");
  // A failed transaction leaves the facts as they were; the stamp may move
  // (a cache then reads again) but must never go back to a value under
  // which other facts were read.
  std::optional<uint64_t> before = stamp();
  Status failed = store_->Bulk([&]() -> Status {
    (void)store_->PutCase({"CR-10", "theft", "reported", {}});
    return tl::make_unexpected(Internal("give up"));
  });
  EXPECT_FALSE(failed);
  std::optional<uint64_t> after = stamp();
  EXPECT_TRUE(after == before || *after > *before);
}

TEST(SqliteStoreTest, MigratesAVersionOneStore) {
  auto dir = std::filesystem::temp_directory_path() / ("store_migrate_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = (dir / "v1.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* v1 = R"sql(
CREATE TABLE organisations(id TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, scope TEXT NOT NULL);
CREATE TABLE credentials(kind INTEGER NOT NULL, digest TEXT NOT NULL,
  org_id TEXT NOT NULL REFERENCES organisations(id), PRIMARY KEY(kind, digest)) WITHOUT ROWID;
CREATE TABLE field_categories(field TEXT PRIMARY KEY, category TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE subjects(id INTEGER PRIMARY KEY, reference TEXT NOT NULL UNIQUE,
  given_name TEXT NOT NULL, family_name TEXT NOT NULL, date_of_birth TEXT NOT NULL,
  identity_key TEXT NOT NULL, concern TEXT NOT NULL, regularisation_pending INTEGER NOT NULL,
  subject_initiated INTEGER NOT NULL, consent_to_ie INTEGER NOT NULL, flags TEXT NOT NULL,
  service_roles TEXT NOT NULL);
CREATE INDEX subjects_identity ON subjects(identity_key);
CREATE TABLE cases(id TEXT PRIMARY KEY, type TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE participants(subject_id INTEGER NOT NULL REFERENCES subjects(id),
  case_id TEXT NOT NULL REFERENCES cases(id), role TEXT NOT NULL,
  PRIMARY KEY(subject_id, case_id, role)) WITHOUT ROWID;
CREATE TABLE records(id INTEGER PRIMARY KEY, subject_id INTEGER NOT NULL REFERENCES subjects(id),
  kind TEXT NOT NULL, collected_as TEXT NOT NULL, case_id TEXT REFERENCES cases(id), fields TEXT NOT NULL);
CREATE INDEX records_subject ON records(subject_id);
CREATE TABLE receipts(id TEXT PRIMARY KEY, log_index INTEGER NOT NULL,
  org_id TEXT NOT NULL REFERENCES organisations(id), created INTEGER NOT NULL);
INSERT INTO subjects VALUES(1, 'OLD-1', 'Ann', 'Old', '1980-01-01', 'ann|old|1980-01-01', 'none', 0, 0, 0, 'domestic-abuse', '');
INSERT INTO cases VALUES('CR-OLD', 'assault', 'charged');
INSERT INTO participants VALUES(1, 'CR-OLD', 'victim');
PRAGMA user_version=1;
)sql";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = OpenSqliteStore(path);
  ASSERT_TRUE(s) << s.error().ToString();
  auto old = (*s)->FindSubjectByReference("OLD-1");
  ASSERT_TRUE(old && *old);
  EXPECT_FALSE((*old)->application.has_value());
  EXPECT_EQ((*old)->flags, (std::vector<std::string>{"domestic-abuse"}));
  auto cases = (*s)->SubjectCases(1);
  ASSERT_TRUE(cases && cases->size() == 1);
  EXPECT_TRUE((*cases)[0].case_flags.empty());
  // The migrated store takes the new facts.
  ASSERT_TRUE((*s)->SetApplicationChoice(1, {"ukvi-dvilr", {"identity"}, "PC 1", "2026-10-02"}));
  ASSERT_TRUE((*s)->PutCase({"CR-OLD", "assault", "charged", {"domestic-abuse"}}));
  s->reset();
  auto reopened = OpenSqliteStore(path);
  ASSERT_TRUE(reopened);
  auto again = (*reopened)->FindSubjectByReference("OLD-1");
  ASSERT_TRUE(again && *again && (*again)->application);
  EXPECT_EQ((*again)->application->recipient, "ukvi-dvilr");
  std::filesystem::remove_all(dir);
}

TEST(SqliteStoreTest, ReopensAndRefusesNewerSchema) {
  auto dir = std::filesystem::temp_directory_path() / ("store_reopen_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = (dir / "s.db").string();
  {
    auto s = OpenSqliteStore(path);
    ASSERT_TRUE(s);
    Subject subject;
    subject.reference = "KEEP";
    ASSERT_TRUE((*s)->AddSubject(subject));
  }
  {
    auto s = OpenSqliteStore(path);
    ASSERT_TRUE(s);
    auto got = (*s)->FindSubjectByReference("KEEP");
    ASSERT_TRUE(got && *got);
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto s = OpenSqliteStore(path);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  }
  std::filesystem::remove_all(dir);
}

// Writers on several connections at once: SERIALIZABLE conflicts on the id
// counter are retried, and every subject gets its own id.
// Schema version 3: the reporting pathway's reports, tracker tokens (hashes
// only; mandates held by an advocate organisation), covert holds and the
// pseudonym index.
TEST_P(StoreTest, ReportsTokensHoldsAndTrackerIndex) {
  ASSERT_TRUE(store_->PutOrganisation({"vs", "victim-support-service", "Victims' service", Scope::kIntake}));
  ASSERT_TRUE(store_->PutOrganisation({"adv", "victim-support-service", "Advocate", Scope::kAdvocate}));
  auto intake = store_->GetOrganisation("vs");
  ASSERT_TRUE(intake && *intake);
  EXPECT_EQ((*intake)->scope, Scope::kIntake);
  auto adv = store_->GetOrganisation("adv");
  ASSERT_TRUE(adv && *adv);
  EXPECT_EQ((*adv)->scope, Scope::kAdvocate);

  int64_t ana = AddPerson("RPT-1", "Ana", "Pereira", "1988-04-01");
  int64_t bo = AddPerson("RPT-2", "Bo", "Chen", "1990-01-01");
  // Subject, case, participant, record, report and token in one transaction.
  Status st = store_->Bulk([&]() -> Status {
    FB_RETURN_IF_ERROR(store_->PutCase({"RPT-C1", "assault", "reported"}));
    FB_RETURN_IF_ERROR(store_->AddParticipant("RPT-C1", ana, "victim"));
    FB_RETURN_IF_ERROR(store_->PutReport({"r1", ana, "RPT-C1", "vs", 100, 2}));
    return store_->PutTrackerToken({"d-ana", ana, "report", "", 100, 0});
  });
  ASSERT_TRUE(st) << st.error().ToString();
  auto report = store_->GetReport("r1");
  ASSERT_TRUE(report && *report);
  EXPECT_EQ((*report)->subject_id, ana);
  EXPECT_EQ((*report)->case_id, "RPT-C1");
  EXPECT_EQ((*report)->org_id, "vs");
  EXPECT_EQ((*report)->dropped_fields, 2);
  auto no_report = store_->GetReport("r2");
  ASSERT_TRUE(no_report);
  EXPECT_FALSE(*no_report);
  // A report naming an unknown case is refused.
  EXPECT_FALSE(store_->PutReport({"r3", ana, "NO-CASE", "vs", 100, 0}));
  // A failed transaction leaves no token behind.
  Status failed = store_->Bulk([&]() -> Status {
    FB_RETURN_IF_ERROR(store_->PutTrackerToken({"d-rolled-back", bo, "report", "", 101, 0}));
    return tl::make_unexpected(InvalidArgument("stop"));
  });
  EXPECT_FALSE(failed);
  auto rolled = store_->FindTrackerToken("d-rolled-back");
  ASSERT_TRUE(rolled);
  EXPECT_FALSE(*rolled);

  // Tokens: found by digest, duplicates refused, mandates name their advocate.
  auto dup = store_->PutTrackerToken({"d-ana", bo, "holder", "", 102, 0});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);
  ASSERT_TRUE(store_->PutTrackerToken({"d-mandate", ana, "mandate", "adv", 103, 0}));
  ASSERT_TRUE(store_->PutTrackerToken({"d-bo", bo, "holder", "", 104, 0}));
  EXPECT_FALSE(store_->PutTrackerToken({"d-x", ana, "mandate", "no-such-org", 105, 0}));
  auto t = store_->FindTrackerToken("d-mandate");
  ASSERT_TRUE(t && *t);
  EXPECT_EQ((*t)->subject_id, ana);
  EXPECT_EQ((*t)->kind, "mandate");
  EXPECT_EQ((*t)->org_id, "adv");
  EXPECT_EQ((*t)->revoked, 0);
  auto plain = store_->FindTrackerToken("d-ana");
  ASSERT_TRUE(plain && *plain);
  EXPECT_EQ((*plain)->org_id, "");
  ASSERT_TRUE(store_->RevokeTrackerToken("d-mandate", 200));
  t = store_->FindTrackerToken("d-mandate");
  ASSERT_TRUE(t && *t);
  EXPECT_EQ((*t)->revoked, 200);
  auto missing = store_->RevokeTrackerToken("d-none", 200);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto ana_tokens = store_->SubjectTrackerTokens(ana);
  ASSERT_TRUE(ana_tokens);
  ASSERT_EQ(ana_tokens->size(), 2u);
  EXPECT_EQ((*ana_tokens)[0].digest, "d-ana");
  EXPECT_EQ((*ana_tokens)[1].digest, "d-mandate");

  auto subject = store_->GetSubject(ana);
  ASSERT_TRUE(subject && *subject);
  EXPECT_EQ((*subject)->reference, "RPT-1");
  auto nobody = store_->GetSubject(9999);
  ASSERT_TRUE(nobody);
  EXPECT_FALSE(*nobody);

  // Holds: replaced per index, read for a list of indices.
  ASSERT_TRUE(store_->PutHold({7, 1000, "live-investigation", 10}));
  ASSERT_TRUE(store_->PutHold({3, 500, "live-investigation", 10}));
  ASSERT_TRUE(store_->PutHold({7, 2000, "court-order", 11}));
  auto holds = store_->HoldsFor({9, 7, 1});
  ASSERT_TRUE(holds);
  ASSERT_EQ(holds->size(), 1u);
  EXPECT_EQ((*holds)[0].log_index, 7u);
  EXPECT_EQ((*holds)[0].hidden_until, 2000);
  EXPECT_EQ((*holds)[0].reason, "court-order");
  auto all = store_->AllHolds();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].log_index, 3u);

  // The index: ascending, idempotent, one pseudonym never sees another's.
  for (uint64_t i : {5u, 2u, 9u, 2u}) ASSERT_TRUE(store_->AddTrackerIndex("p-ana", i));
  ASSERT_TRUE(store_->AddTrackerIndex("p-bo", 4));
  auto idx = store_->TrackerIndex("p-ana");
  ASSERT_TRUE(idx);
  EXPECT_EQ(*idx, (std::vector<uint64_t>{2, 5, 9}));
  auto other = store_->TrackerIndex("p-bo");
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, (std::vector<uint64_t>{4}));
  auto empty = store_->TrackerIndex("p-none");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

std::string HexTail(const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) out += std::string("\\x") + kHex[c >> 4] + kHex[c & 0xF];
  return out;
}

// Everything a subject's decision or an answer reads back, as one string,
// for "nothing changed" comparisons.
std::string Snapshot(Store& store, int64_t subject) {
  std::string out;
  auto s = store.GetSubject(subject);
  EXPECT_TRUE(s) << s.error().ToString();
  if (s && *s) {
    out += (*s)->reference + "|" + (*s)->given_name + "|" + (*s)->family_name + "|" + (*s)->date_of_birth + "|";
    for (const auto& f : (*s)->flags) out += f + ";";
    if ((*s)->application) out += "|app:" + (*s)->application->recorded_by;
  }
  auto cases = store.SubjectCases(subject);
  EXPECT_TRUE(cases) << cases.error().ToString();
  if (cases) {
    for (const auto& c : *cases) out += "\ncase " + c.case_id + " " + c.case_type + " " + c.case_status + " " + c.role;
  }
  auto records = store.SubjectRecords(subject);
  EXPECT_TRUE(records) << records.error().ToString();  // a record that cannot be read back: kDataLoss
  if (records) {
    for (const auto& r : *records) {
      out += "\nrecord " + std::to_string(r.id) + " " + r.kind;
      for (const auto& f : r.fields) out += " " + f.name + "=" + f.value;
    }
  }
  auto fields = store.FieldCategories();
  EXPECT_TRUE(fields);
  if (fields) {
    for (const auto& [f, c] : *fields) out += "\nmap " + f + "=" + c;
  }
  auto org = store.GetOrganisation("org");
  EXPECT_TRUE(org && *org);
  if (org && *org) out += "\norg " + (*org)->name + " " + (*org)->type;
  auto holds = store.AllHolds();
  EXPECT_TRUE(holds);
  if (holds) {
    for (const auto& h : *holds) out += "\nhold " + std::to_string(h.log_index) + " " + h.reason;
  }
  auto tokens = store.SubjectTrackerTokens(subject);
  EXPECT_TRUE(tokens);
  if (tokens) {
    for (const auto& t : *tokens) out += "\ntoken " + t.digest + " " + t.kind;
  }
  auto index = store.TrackerIndex("p-1");
  EXPECT_TRUE(index);
  if (index) out += "\nindex " + std::to_string(index->size());
  auto report = store.GetReport("r1");
  EXPECT_TRUE(report);
  if (report && *report) out += "\nreport " + (*report)->case_id;
  auto counts = store.CountAll();
  EXPECT_TRUE(counts);
  if (counts) {
    out += "\ncounts " + std::to_string(counts->organisations) + " " + std::to_string(counts->subjects) + " " +
           std::to_string(counts->cases) + " " + std::to_string(counts->participants) + " " +
           std::to_string(counts->records) + " " + std::to_string(counts->receipts);
  }
  return out;
}

// Text that could not be read back as it was written (not UTF-8: record
// fields are kept as JSON; U+0000: PostgreSQL's text ends there) is refused
// by every backend, naming the field, and nothing is written: not by that
// call, not by the rest of its transaction.
TEST_P(StoreTest, RefusesTextThatWouldNotReadBackAndWritesNothing) {
  // Valid UTF-8 beyond ASCII is kept as it was.
  ASSERT_TRUE(store_->PutOrganisation({"org", "police-force", "Heddlu Dyfed-Powys \xE2\x80\x94 Gw\xC5\xB5r", Scope::kHolder}));
  ASSERT_TRUE(store_->SetFieldCategory("given_name", "identity"));
  int64_t id = AddPerson("SFK-1", "Siobh\xC3\xA1n", "\xE5\x90\x8D\xE5\x89\x8D", "1990-01-01");
  ASSERT_TRUE(store_->PutCase({"CR-1", "assault", "charged", {"domestic-abuse"}}));
  ASSERT_TRUE(store_->AddParticipant("CR-1", id, "victim"));
  Record good;
  good.subject_id = id;
  good.kind = "victim-statement";
  good.collected_as = "victim";
  good.case_id = "CR-1";
  good.fields = {{"given_name", "Zo\xC3\xAB \xF0\x9F\x98\x80"}, {"phone", "07700 900000"}};
  ASSERT_TRUE(store_->AddRecord(good));
  ASSERT_TRUE(store_->PutReport({"r1", id, "CR-1", "org", 100, 0}));
  ASSERT_TRUE(store_->PutTrackerToken({"d-1", id, "holder", "", 100, 0}));
  ASSERT_TRUE(store_->PutHold({3, 500, "court-order", 10}));
  ASSERT_TRUE(store_->AddTrackerIndex("p-1", 3));
  auto records = store_->SubjectRecords(id);
  ASSERT_TRUE(records) << records.error().ToString();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].fields[0].value, "Zo\xC3\xAB \xF0\x9F\x98\x80");
  const std::string before = Snapshot(*store_, id);

  // The exact message: the field, the byte and where it is; never the text.
  Record named = good;
  named.fields = {{"phone", "0770"}, {"given_name", "Ana\xFFsecret"}};
  auto refused = store_->AddRecord(named);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message(), "record field `given_name` is not valid UTF-8 (byte 0xff at offset 3)");

  const std::pair<const char*, std::string> kBad[] = {
      {"a byte that is never UTF-8", "\xFF"},
      {"a stray continuation byte", "ab\x80"},
      {"an overlong '/'", "\xC0\xAF"},
      {"an overlong U+0800", "\xE0\x80\x80"},
      {"a surrogate", "\xED\xA0\x80"},
      {"a code point above U+10FFFF", "\xF4\x90\x80\x80"},
      {"a sequence cut short", "caf\xC3"},
      {"Latin-1, not UTF-8", "Siobh\xE1n"},
      {"U+0000", std::string("a\0b", 3)},
  };
  for (const auto& [why, bad] : kBad) {
    SCOPED_TRACE(why);
    auto expect_refused = [&](const Status& st, const std::string& names) {
      ASSERT_FALSE(st) << names;
      EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument) << st.error().ToString();
      EXPECT_NE(st.error().message().find(names), std::string::npos) << st.error().message();
      EXPECT_EQ(st.error().message().find(bad), std::string::npos) << "the bad text is echoed";
    };

    Record r = good;
    r.fields = {{"phone", "0770"}, {"given_name", bad}};
    auto rec = store_->AddRecord(r);
    expect_refused(rec ? Ok() : Status(tl::make_unexpected(rec.error())), "record field `given_name`");
    r.fields = {{"phone", "0770"}, {"x" + bad, "fine"}};
    rec = store_->AddRecord(r);
    expect_refused(rec ? Ok() : Status(tl::make_unexpected(rec.error())), "the name of record field 2");
    r = good;
    r.kind = bad;
    rec = store_->AddRecord(r);
    expect_refused(rec ? Ok() : Status(tl::make_unexpected(rec.error())), "record `kind`");

    Subject s;
    s.reference = "SFK-2";
    s.given_name = "Ana";
    s.family_name = bad;
    auto sub = store_->AddSubject(s);
    expect_refused(sub ? Ok() : Status(tl::make_unexpected(sub.error())), "subject `family_name`");
    s.family_name = "Pereira";
    s.reference = bad;
    sub = store_->AddSubject(s);
    expect_refused(sub ? Ok() : Status(tl::make_unexpected(sub.error())), "subject `reference`");
    s.reference = "SFK-2";
    s.flags = {"child", bad};
    sub = store_->AddSubject(s);
    expect_refused(sub ? Ok() : Status(tl::make_unexpected(sub.error())), "subject `flags` entry 2");
    s.flags = {};
    s.application = ApplicationChoice{"ukvi-dvilr", {"identity"}, bad, "2026-01-01"};
    sub = store_->AddSubject(s);
    expect_refused(sub ? Ok() : Status(tl::make_unexpected(sub.error())), "application choice `recorded_by`");
    expect_refused(store_->SetApplicationChoice(id, {"ukvi-dvilr", {bad}, "PC 1", "2026-01-01"}),
                   "application choice `categories` entry 1");

    // Replacing what is there with bad text leaves what is there.
    expect_refused(store_->PutCase({"CR-1", "assault", bad, {}}), "case `status`");
    expect_refused(store_->PutCase({"CR-1", "assault", "closed", {bad}}), "case `flags` entry 1");
    expect_refused(store_->PutOrganisation({"org", "police-force", bad, Scope::kHolder}), "organisation `name`");
    expect_refused(store_->SetFieldCategory("given_name", bad), "field map `category`");
    expect_refused(store_->SetFieldCategory(bad, "identity"), "field map `field`");
    expect_refused(store_->AddCredential("org", CredentialKind::kToken, bad), "credential digest");
    expect_refused(store_->AddParticipant("CR-1", id, bad), "participant `role`");
    expect_refused(store_->PutReceipt({bad, 1, "org", 100}), "receipt `id`");
    expect_refused(store_->PutReport({"r2", id, "CR-1", bad, 100, 0}), "report `org_id`");
    expect_refused(store_->PutTrackerToken({"d-2", id, bad, "", 100, 0}), "tracker token `kind`");
    expect_refused(store_->RevokeTrackerToken(bad, 200), "tracker token digest");
    expect_refused(store_->PutHold({3, 900, bad, 11}), "hold `reason`");
    expect_refused(store_->AddTrackerIndex(bad, 4), "tracker index `pseudonym`");

    // A batch with one bad write in it is refused whole.
    Status batch = store_->Bulk([&]() -> Status {
      Subject t;
      t.reference = "SFK-3";
      t.given_name = "Bo";
      FB_ASSIGN_OR_RETURN(int64_t other, store_->AddSubject(t));
      FB_RETURN_IF_ERROR(store_->PutCase({"CR-1", "assault", "closed", {}}));
      Record fine = good;
      fine.subject_id = other;
      FB_RETURN_IF_ERROR(store_->AddRecord(fine));
      FB_RETURN_IF_ERROR(store_->AddRecord(good));
      Record last = good;
      last.fields.push_back({"address_line", bad});
      return store_->AddRecord(last).map([](int64_t) {});
    });
    expect_refused(batch, "record field `address_line`");

    EXPECT_EQ(Snapshot(*store_, id), before);
    auto none = store_->FindSubjectByReference("SFK-3");
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
  }
}

// A lookup by a key no store could hold finds nothing, on every backend
// alike: PostgreSQL, asked, would refuse bytes that are not UTF-8 (an error
// where SQLite says "not there") and cut a key short at a NUL (and find
// another subject).
TEST_P(StoreTest, LookupsByKeysNoStoreHoldsFindNothing) {
  ASSERT_TRUE(store_->PutOrganisation({"org", "police-force", "Force", Scope::kHolder}));
  ASSERT_TRUE(store_->AddCredential("org", CredentialKind::kToken, "abcd"));
  int64_t id = AddPerson("SFK-1", "Siobh\xC3\xA1n", "Murphy", "1990-01-01");
  ASSERT_TRUE(store_->PutCase({"CR-1", "assault", "charged", {}}));
  ASSERT_TRUE(store_->PutReport({"r1", id, "CR-1", "org", 100, 0}));
  ASSERT_TRUE(store_->PutTrackerToken({"d-1", id, "holder", "", 100, 0}));
  ASSERT_TRUE(store_->AddTrackerIndex("p-1", 3));
  ASSERT_TRUE(store_->PutReceipt({"rc-1", 3, "org", 100}));
  auto found = store_->FindSubjectByReference("SFK-1");
  ASSERT_TRUE(found && *found);
  auto matched = store_->MatchIdentity("siobh\xC3\xA1n", "MURPHY", "1990-01-01");
  ASSERT_TRUE(matched);
  EXPECT_EQ(matched->size(), 1u);

  for (const std::string& tail : {std::string("\0", 1), std::string("\0x", 2), std::string("\xFF"),
                                  std::string("\xC3")}) {
    SCOPED_TRACE(HexTail(tail));
    auto s = store_->FindSubjectByReference("SFK-1" + tail);
    ASSERT_TRUE(s) << s.error().ToString();
    EXPECT_FALSE(*s);
    auto m = store_->MatchIdentity("Siobh\xC3\xA1n", "Murphy", "1990-01-01" + tail);
    ASSERT_TRUE(m) << m.error().ToString();
    EXPECT_TRUE(m->empty());
    m = store_->MatchIdentity("Siobh\xC3\xA1n" + tail, "Murphy", "1990-01-01");
    ASSERT_TRUE(m) << m.error().ToString();
    if (tail[0] != '\0') {
      EXPECT_TRUE(m->empty());  // (a NUL in a name folds to a space, as any punctuation)
    }
    auto o = store_->GetOrganisation("org" + tail);
    ASSERT_TRUE(o) << o.error().ToString();
    EXPECT_FALSE(*o);
    auto c = store_->FindOrganisationByCredential(CredentialKind::kToken, "abcd" + tail);
    ASSERT_TRUE(c) << c.error().ToString();
    EXPECT_FALSE(*c);
    auto rc = store_->GetReceipt("rc-1" + tail);
    ASSERT_TRUE(rc) << rc.error().ToString();
    EXPECT_FALSE(*rc);
    auto rp = store_->GetReport("r1" + tail);
    ASSERT_TRUE(rp) << rp.error().ToString();
    EXPECT_FALSE(*rp);
    auto t = store_->FindTrackerToken("d-1" + tail);
    ASSERT_TRUE(t) << t.error().ToString();
    EXPECT_FALSE(*t);
    auto ix = store_->TrackerIndex("p-1" + tail);
    ASSERT_TRUE(ix) << ix.error().ToString();
    EXPECT_TRUE(ix->empty());
  }
}

TEST_P(StoreTest, ConcurrentWritersGetDistinctIds) {
  std::mutex mu;
  std::set<int64_t> ids;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        Subject s;
        s.reference = "T" + std::to_string(t) + "-" + std::to_string(i);
        auto id = store_->AddSubject(s);
        if (!id) {
          failures++;
          ADD_FAILURE() << id.error().ToString();
          continue;
        }
        std::lock_guard lock(mu);
        ids.insert(*id);
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ids.size(), 160u);
  auto counts = store_->CountAll();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->subjects, 160);
}

// The PostgreSQL schema: migrations run once, a reopened store keeps its
// data, a schema newer than the build is refused.
TEST(PgStoreTest, ReopensAndRefusesNewerSchema) {
  std::string why;
  std::string base = TestPgUrl(&why);
  if (base.empty()) GTEST_SKIP() << "no PostgreSQL server for the PostgreSQL store tests: " << why;
  std::string db = TestDatabaseName();
  ASSERT_TRUE(PgAdmin(base, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)"));
  ASSERT_TRUE(PgAdmin(base, "CREATE DATABASE " + db));
  std::string url = WithDatabase(base, db);
  {
    auto s = OpenPostgresStore(url);
    ASSERT_TRUE(s) << s.error().ToString();
    Subject subject;
    subject.reference = "KEEP";
    ASSERT_TRUE((*s)->AddSubject(subject));
  }
  {
    auto s = OpenPostgresStore(url);
    ASSERT_TRUE(s) << s.error().ToString();
    auto kept = (*s)->FindSubjectByReference("KEEP");
    ASSERT_TRUE(kept);
    EXPECT_TRUE(kept->has_value());
    Subject next;
    next.reference = "NEXT";
    auto id = (*s)->AddSubject(next);
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, 2);
  }
  ASSERT_TRUE(PgAdmin(url, "UPDATE schema_version SET version = 99"));
  auto s = OpenPostgresStore(url);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  PgAdmin(base, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
}

// The server drops every connection of the store (as when it restarts): the
// next calls open new ones, without an error.
TEST(PgStoreTest, RecoversWhenTheServerDropsItsConnections) {
  std::string why;
  std::string base = TestPgUrl(&why);
  if (base.empty()) GTEST_SKIP() << "no PostgreSQL server for the PostgreSQL store tests: " << why;
  std::string db = TestDatabaseName();
  ASSERT_TRUE(PgAdmin(base, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)"));
  ASSERT_TRUE(PgAdmin(base, "CREATE DATABASE " + db));
  {
    auto s = OpenPostgresStore(WithDatabase(base, db));
    ASSERT_TRUE(s) << s.error().ToString();
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
      readers.emplace_back([&] { EXPECT_TRUE((*s)->CountAll()); });
    }
    for (auto& t : readers) t.join();
    ASSERT_TRUE(PgAdmin(base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db +
                                  "' AND pid <> pg_backend_pid()"));
    for (int i = 0; i < 5; ++i) {
      auto counts = (*s)->CountAll();
      ASSERT_TRUE(counts) << counts.error().ToString();
    }
  }
  PgAdmin(base, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("memory", "sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace firebreak::store
