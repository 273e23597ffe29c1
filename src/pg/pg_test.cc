// The libpq layer: its pure parts (passwords, descriptions, SQLSTATEs)
// always; statements, the pool, transactions and migrations against the
// server of FIREBREAK_TEST_PG_URL (scripts/test.sh), skipping without one.
#include "pg/pg.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include <gtest/gtest.h>

namespace firebreak::pg {
namespace {

TEST(PgUrlPassword, FindsThePasswordOfTheAuthorityOnly) {
  EXPECT_EQ(UrlPassword("postgresql://alice:s3cret@db.example:5432/force"), "s3cret");
  EXPECT_EQ(UrlPassword("postgres://alice:p@ss:w0rd@db.example/force"), "p@ss:w0rd");
  EXPECT_EQ(UrlPassword("postgresql://alice@db.example/force"), "");
  EXPECT_EQ(UrlPassword("postgresql://db.example/force"), "");
  // An '@' after the authority (in the path or the query) is not a password's end.
  EXPECT_EQ(UrlPassword("postgresql://db.example/force?user=a@b"), "");
  EXPECT_EQ(UrlPassword("postgresql://alice:pw@/force?host=/run/x@y"), "pw");
  // key=value strings carry their password as an option, which libpq never echoes.
  EXPECT_EQ(UrlPassword("host=db.example password=s3cret"), "");
}

TEST(PgScrub, CutsThePasswordAndKeepsOneLine) {
  EXPECT_EQ(Scrub("could not connect to alice:s3cret@db\nFATAL: s3cret rejected\n", "s3cret"),
            "could not connect to alice:***@db FATAL: *** rejected");
  EXPECT_EQ(Scrub("a\tb\r\n  \n", ""), "a b");
  EXPECT_EQ(Scrub("nothing secret", ""), "nothing secret");
  // A password that the replacement would contain again does not loop.
  EXPECT_EQ(Scrub("x*y", "*"), "x***y");
}

TEST(PgDescribe, NamesHostPortAndDatabaseButNeverThePassword) {
  auto d = Describe("postgresql://alice:s3cret@db.example:6543/force", "the PostgreSQL store");
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(*d, "(host db.example port 6543, database force)");
  auto socket = Describe("postgresql://alice@/force?host=/run/firebreak", "x");
  ASSERT_TRUE(socket);
  EXPECT_EQ(*socket, "(host /run/firebreak, database force)");
  auto user_db = Describe("postgresql://alice@db.example", "x");
  ASSERT_TRUE(user_db);
  EXPECT_EQ(*user_db, "(host db.example, database alice)");
  auto key_value = Describe("hostaddr=10.0.0.7 dbname=log", "x");
  ASSERT_TRUE(key_value);
  EXPECT_EQ(*key_value, "(host 10.0.0.7, database log)");
  auto bare = Describe("postgresql://", "x");
  ASSERT_TRUE(bare);
  EXPECT_NE(bare->find("host the default socket"), std::string::npos) << *bare;

  auto bad = Describe("postgresql://alice:s3cret@db.example/force?no_such_option=1", "the PostgreSQL log");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message().rfind("the PostgreSQL log URL is not valid: ", 0), 0u) << bad.error().message();
  EXPECT_NE(bad.error().message().find("no_such_option"), std::string::npos);
  EXPECT_EQ(bad.error().message().find("s3cret"), std::string::npos);
}

TEST(PgEndpoint, KeepsUrlNameWhereAndPassword) {
  auto e = Endpoint::Parse("postgresql://alice:s3cret@db.example/force", "the PostgreSQL store");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->url, "postgresql://alice:s3cret@db.example/force");
  EXPECT_EQ(e->name, "the PostgreSQL store");
  EXPECT_EQ(e->where, "(host db.example, database force)");
  EXPECT_EQ(e->password, "s3cret");
  EXPECT_FALSE(Endpoint::Parse("postgresql://db.example/force?bogus=1", "x"));
}

TEST(PgSqlState, ClassifiesRetryableAndLostConnections) {
  EXPECT_TRUE(IsSerializationFailure("40001"));
  EXPECT_TRUE(IsSerializationFailure("40P01"));
  EXPECT_FALSE(IsSerializationFailure("40002"));  // integrity constraint violation at COMMIT
  EXPECT_FALSE(IsSerializationFailure(""));
  EXPECT_TRUE(IsLostConnection(""));
  EXPECT_TRUE(IsLostConnection("08006"));
  EXPECT_TRUE(IsLostConnection("08001"));
  EXPECT_TRUE(IsLostConnection("57P01"));  // admin shutdown
  EXPECT_TRUE(IsLostConnection("57P03"));  // cannot connect now
  EXPECT_FALSE(IsLostConnection("57014"));  // query cancelled
  EXPECT_FALSE(IsLostConnection("40001"));
  EXPECT_FALSE(IsLostConnection("53300"));
}

TEST(PgSqlState, MapsToErrorCodes) {
  struct Case {
    const char* state;
    bool broken;
    ErrorCode code;
  } cases[] = {
      {"40001", false, ErrorCode::kUnavailable},      {"40P01", false, ErrorCode::kUnavailable},
      {"23505", false, ErrorCode::kAlreadyExists},    {"42P07", false, ErrorCode::kAlreadyExists},
      {"23503", false, ErrorCode::kInvalidArgument},  {"23502", true, ErrorCode::kInvalidArgument},
      {"XX001", false, ErrorCode::kDataLoss},         {"XX002", false, ErrorCode::kDataLoss},
      {"", false, ErrorCode::kUnavailable},           {"08006", false, ErrorCode::kUnavailable},
      {"57P01", false, ErrorCode::kUnavailable},      {"53300", false, ErrorCode::kUnavailable},
      {"53100", false, ErrorCode::kUnavailable},      {"22012", false, ErrorCode::kIo},
      {"42P01", false, ErrorCode::kIo},               {"42P01", true, ErrorCode::kUnavailable},
      {"XX000", false, ErrorCode::kIo},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrorCodeFor(c.state, c.broken), c.code) << c.state << (c.broken ? " (broken)" : "");
  }
}

TEST(PgParams, TextBytesIntsAndNull) {
  EXPECT_EQ(Int8Array(std::vector<uint64_t>{}), "{}");
  EXPECT_EQ(Int8Array(std::vector<uint64_t>{1, 20, 300}), "{1,20,300}");
  Param bytes = Bytes(std::string("a\0b", 3));
  EXPECT_TRUE(bytes.binary);
  EXPECT_EQ(*bytes.value, std::string("a\0b", 3));
  EXPECT_FALSE(Null().value);
  EXPECT_FALSE(Text("x").binary);
  EXPECT_EQ(*Int(int64_t{-5}).value, "-5");
  EXPECT_EQ(*Int(uint64_t{18446744073709551615u}).value, "18446744073709551615");
  Param implicit = std::string("y");
  EXPECT_EQ(*implicit.value, "y");
}

TEST(PgConnection, AnUnreachableServerIsUnavailableAndNamedWithoutThePassword) {
  // Nothing listens on port 1.
  auto at = Endpoint::Parse("postgresql://firebreak:s3cret-pw@127.0.0.1:1/force", "the PostgreSQL test database");
  ASSERT_TRUE(at);
  auto c = Connection::Open(*at, {});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  const std::string& m = c.error().message();
  EXPECT_EQ(m.rfind("opening the PostgreSQL test database (host 127.0.0.1 port 1, database force): ", 0), 0u) << m;
  EXPECT_EQ(m.find("s3cret-pw"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

// ---- Against a server ----

std::string TestUrl() {
  const char* url = std::getenv("FIREBREAK_TEST_PG_URL");
  return url && std::string_view(url).rfind("postgres", 0) == 0 ? url : "";
}

#define REQUIRE_PG()                                                                                   \
  if (TestUrl().empty()) GTEST_SKIP() << "FIREBREAK_TEST_PG_URL is not set to a server (scripts/test.sh, " \
                                         "or scripts/pg-local.sh start DIR and export its URL)"

TransactionOptions Named(std::string what) {
  TransactionOptions o;
  o.what = std::move(what);
  return o;
}

class PgLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (TestUrl().empty()) return;
    auto at = Endpoint::Parse(TestUrl(), "the PostgreSQL test database");
    ASSERT_TRUE(at) << at.error().ToString();
    at_ = *at;
    // Short (the server cuts names at 63 bytes) and lower case (unquoted
    // names are folded to it, and information_schema knows them so).
    static int next = 0;
    table_ = "pg_test_" + std::to_string(getpid()) + "_" + std::to_string(next++);
  }
  void TearDown() override {
    if (at_.url.empty()) return;
    auto c = Connection::Open(at_, {});
    if (c) {
      (void)(*c)->Script("dropping", ("DROP TABLE IF EXISTS " + table_ + ", " + table_ + "_v, " + table_ + "_m").c_str());
    }
  }
  std::unique_ptr<Connection> Open(Connection::Options options = {}) {
    auto c = Connection::Open(at_, options);
    EXPECT_TRUE(c) << c.error().ToString();
    return c ? std::move(*c) : nullptr;
  }
  Status Run(Connection& c, const std::string& sql) { return c.Script(sql, sql.c_str()); }

  Endpoint at_;
  std::string table_;
};

TEST_F(PgLiveTest, ReadsTextAndBinaryResultsAlike) {
  REQUIRE_PG();
  for (bool binary : {false, true}) {
    Connection::Options o;
    o.binary_results = binary;
    auto c = Open(o);
    ASSERT_TRUE(c);
    auto r = c->Query("reading", "SELECT $1::INT8, $2::BYTEA, NULL::INT8, $3::TEXT, (-7)::INT8",
                      {Int(uint64_t{9000000000}), Bytes(std::string("\0\x01\xff", 3)), Text("naïve")});
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_EQ(r->size(), 1);
    EXPECT_EQ(*r->int64(0, 0), 9000000000) << binary;
    if (binary) {
      EXPECT_EQ(r->text(0, 1), std::string("\0\x01\xff", 3));
    }
    EXPECT_TRUE(r->null(0, 2));
    EXPECT_FALSE(r->null(0, 0));
    EXPECT_EQ(r->text(0, 3), "naïve");
    EXPECT_EQ(*r->int64(0, 4), -7);
    EXPECT_EQ(*r->uint64(0, 4), uint64_t(-7));
    // A text column is not a number.
    auto t = r->int64(0, 3);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code(), ErrorCode::kDataLoss);
  }
}

TEST_F(PgLiveTest, AFailedStatementCarriesItsSqlstateButNotTheRow) {
  REQUIRE_PG();
  Connection::Options o;
  o.message_prefix = "test: ";
  auto c = Open(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(Run(*c, "CREATE TABLE " + table_ + "(a TEXT PRIMARY KEY)"));
  std::string insert = "INSERT INTO " + table_ + "(a) VALUES ($1)";
  ASSERT_TRUE(c->Exec("adding", insert.c_str(), {"the-victims-name"}));
  auto dup = c->Exec("adding again", insert.c_str(), {"the-victims-name"});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(c->sqlstate(), "23505");
  const std::string& m = dup.error().message();
  EXPECT_EQ(m.rfind("test: adding again: ", 0), 0u) << m;
  EXPECT_NE(m.find("(SQLSTATE 23505)"), std::string::npos) << m;
  // The server's detail ("Key (a)=(the-victims-name) already exists") stays out.
  EXPECT_EQ(m.find("the-victims-name"), std::string::npos) << m;

  auto nulls = c->Exec("adding nothing", insert.c_str(), {Null()});
  ASSERT_FALSE(nulls);
  EXPECT_EQ(nulls.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(c->sqlstate(), "23502");
  auto zero = c->Query("dividing", "SELECT 1 / 0");
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code(), ErrorCode::kIo);
  EXPECT_EQ(c->sqlstate(), "22012");
  EXPECT_FALSE(c->broken());
  EXPECT_FALSE(c->retryable());
}

TEST_F(PgLiveTest, RunTransactionRetriesASerializationFailure) {
  REQUIRE_PG();
  auto admin = Open();
  ASSERT_TRUE(admin);
  ASSERT_TRUE(Run(*admin, "CREATE TABLE " + table_ + "(id INT8 PRIMARY KEY, v INT8 NOT NULL); INSERT INTO " +
                              table_ + " VALUES (1, 0)"));
  Pool pool([&] { return Connection::Open(at_, {}); });
  std::string read = "SELECT v FROM " + table_ + " WHERE id = 1";
  std::string bump = "UPDATE " + table_ + " SET v = v + 1 WHERE id = 1";
  std::string add = "UPDATE " + table_ + " SET v = v + 10 WHERE id = 1";
  int attempts = 0;
  Status st = RunTransaction(pool, Named("adding ten"), [&](Connection& c) -> Status {
    ++attempts;
    FB_RETURN_IF_ERROR(c.Query("reading", read.c_str()));  // the snapshot
    // Another writer commits in between, once.
    if (attempts == 1) {
      EXPECT_TRUE(Run(*admin, bump));
    }
    return c.Exec("adding ten", add.c_str());
  });
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(attempts, 2);
  auto v = admin->Query("reading", read.c_str());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->text(0, 0), "11");  // the bump once, the ten once
}

TEST_F(PgLiveTest, ASwallowedSerializationFailureStillRetriesAndExhaustionIsUnavailable) {
  REQUIRE_PG();
  auto admin = Open();
  ASSERT_TRUE(admin);
  ASSERT_TRUE(Run(*admin, "CREATE TABLE " + table_ + "(id INT8 PRIMARY KEY, v INT8 NOT NULL); INSERT INTO " +
                              table_ + " VALUES (1, 0)"));
  Pool pool([&] { return Connection::Open(at_, {}); });
  std::string read = "SELECT v FROM " + table_ + " WHERE id = 1";
  std::string bump = "UPDATE " + table_ + " SET v = v + 1 WHERE id = 1";
  int attempts = 0;
  // Every try meets a concurrent writer; the body ignores the failure and
  // goes on, meeting "the transaction is aborted" (25P02, not retryable by
  // itself).
  Status st = RunTransaction(pool, Named("a doomed transaction"), [&](Connection& c) -> Status {
    ++attempts;
    FB_RETURN_IF_ERROR(c.Query("reading", read.c_str()));
    EXPECT_TRUE(Run(*admin, bump));
    (void)c.Exec("bumping", bump.c_str());
    return c.Exec("reading again", read.c_str());
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(attempts, kMaxAttempts);
  EXPECT_EQ(st.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(st.error().message().find("a doomed transaction failed 12 times: "), std::string::npos)
      << st.error().message();
}

TEST_F(PgLiveTest, TheFirstErrorWhichIsNotRetryableEndsTheTransaction) {
  REQUIRE_PG();
  Pool pool([&] { return Connection::Open(at_, {}); });
  int attempts = 0;
  Status st = RunTransaction(pool, Named("dividing"), [&](Connection& c) -> Status {
    ++attempts;
    return c.Exec("dividing", "SELECT 1 / 0");
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(st.error().code(), ErrorCode::kIo);
  // A read-only transaction refuses writes.
  auto admin = Open();
  ASSERT_TRUE(admin);
  ASSERT_TRUE(Run(*admin, "CREATE TABLE " + table_ + "(a INT8)"));
  std::string insert = "INSERT INTO " + table_ + " VALUES (1)";
  TransactionOptions reading = Named("reading");
  reading.read_only = true;
  Status ro = RunTransaction(pool, reading,
                             [&](Connection& c) { return c.Exec("writing", insert.c_str()); });
  ASSERT_FALSE(ro);
  EXPECT_EQ(ro.error().code(), ErrorCode::kIo);
  EXPECT_NE(ro.error().message().find("25006"), std::string::npos) << ro.error().message();
}

// A body that carries on past a failed statement: PostgreSQL answers its
// COMMIT with ROLLBACK (no error); the transaction must fail, not look done.
TEST_F(PgLiveTest, ACommitTheServerTurnsIntoARollbackIsAnError) {
  REQUIRE_PG();
  auto admin = Open();
  ASSERT_TRUE(admin);
  ASSERT_TRUE(Run(*admin, "CREATE TABLE " + table_ + "(a INT8 PRIMARY KEY)"));
  Pool pool([&] { return Connection::Open(at_, {}); });
  std::string insert = "INSERT INTO " + table_ + " VALUES (1)";
  Status st = RunTransaction(pool, Named("writing"), [&](Connection& c) -> Status {
    FB_RETURN_IF_ERROR(c.Exec("writing", insert.c_str()));
    (void)c.Exec("dividing", "SELECT 1 / 0");  // failed, and ignored
    return Ok();
  });
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("rolled the transaction back"), std::string::npos) << st.error().message();
  auto rows = admin->Query("counting", ("SELECT count(*) FROM " + table_).c_str());
  ASSERT_TRUE(rows) << rows.error().ToString();
  EXPECT_EQ(rows->text(0, 0), "0");
}

TEST_F(PgLiveTest, APoolEmptiesWhenTheServerDropsItsConnections) {
  REQUIRE_PG();
  std::string app = "firebreak-pool-" + std::to_string(getpid());
  std::atomic<int> opened = 0;
  Pool pool([&]() -> Result<std::unique_ptr<Connection>> {
    ++opened;
    Connection::Options o;
    o.application_name = app;
    return Connection::Open(at_, o);
  });
  auto a = pool.Borrow();
  auto b = pool.Borrow();
  ASSERT_TRUE(a && b);
  pool.GiveBack(std::move(*a));
  pool.GiveBack(std::move(*b));
  EXPECT_EQ(opened, 2);
  auto admin = Open();
  ASSERT_TRUE(admin);
  ASSERT_TRUE(Run(*admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
                              app + "'"));
  auto c = pool.Borrow();  // an idle one, closed by the server
  ASSERT_TRUE(c);
  EXPECT_EQ(opened, 2);
  auto r = (*c)->Query("reading", "SELECT 1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE((*c)->broken());
  pool.GiveBack(std::move(*c));  // drops the other idle one too
  auto d = pool.Borrow();
  ASSERT_TRUE(d);
  EXPECT_EQ(opened, 3);
  EXPECT_TRUE((*d)->Query("reading", "SELECT 1"));

  // A transaction whose pooled connection was closed begins again on a new one.
  pool.GiveBack(std::move(*d));
  ASSERT_TRUE(Run(*admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
                              app + "'"));
  int attempts = 0;
  Status st = RunTransaction(pool, {}, [&](Connection& conn) {
    ++attempts;
    return conn.Exec("reading", "SELECT 1");
  });
  EXPECT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(opened, 4);
}

TEST_F(PgLiveTest, MigrateAppliesEachMigrationOnceAndRefusesANewerSchema) {
  REQUIRE_PG();
  Connection::Options binary;
  binary.binary_results = true;
  auto c = Open(binary);
  ASSERT_TRUE(c);
  std::string m1 = "CREATE TABLE " + table_ + "_m(a INT8)";
  std::string m2 = "INSERT INTO " + table_ + "_m VALUES (7)";
  const char* one[] = {m1.c_str()};
  const char* two[] = {m1.c_str(), m2.c_str()};
  Schema schema{"test", table_ + "_v", one};
  auto migrated = [&] {
    Status st = Migrate(*c, schema);
    EXPECT_TRUE(st) << st.error().ToString();
    return bool(st);
  };
  ASSERT_TRUE(migrated());
  ASSERT_TRUE(migrated());  // nothing to do
  schema.migrations = two;
  ASSERT_TRUE(migrated());
  ASSERT_TRUE(migrated());
  auto rows = c->Query("reading", ("SELECT a FROM " + table_ + "_m").c_str());
  ASSERT_TRUE(rows) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 1);  // the second migration ran once
  EXPECT_EQ(*rows->int64(0, 0), 7);
  schema.migrations = one;
  Status older = Migrate(*c, schema);
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(older.error().message().find("test schema version 2 is newer than this build's 1"), std::string::npos)
      << older.error().message();
}

}  // namespace
}  // namespace firebreak::pg
