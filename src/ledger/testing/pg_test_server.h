// A PostgreSQL server for tests: FIREBREAK_TEST_PG_URL (scripts/test.sh
// starts one with scripts/pg-local.sh), else a throwaway one started here
// with scripts/pg-local.sh and stopped at exit. Tests skip (REQUIRE_PG),
// saying why, only when neither is possible: no URL and no PostgreSQL
// binaries, or the script failed.
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace firebreak::testing_pg {

struct TestServer {
  std::string url;
  std::string why;  // when `url` is empty
  std::string dir;  // a server started here, stopped at exit
};

inline std::string Shell(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

inline TestServer& Server() {
  static TestServer* server = [] {
    auto* s = new TestServer;
    const char* env = std::getenv("FIREBREAK_TEST_PG_URL");
    if (env && std::string_view(env).rfind("postgres", 0) == 0) {
      s->url = env;
      return s;
    }
    bool have_binaries = false;
    std::error_code ec;
    for (const auto& d : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      if (std::filesystem::exists(d.path() / "bin" / "initdb")) have_binaries = true;
    }
    if (!have_binaries) {
      s->why = std::string("FIREBREAK_TEST_PG_URL is ") + (env ? "\"" + std::string(env) + "\"" : "not set") +
               " and no PostgreSQL server binaries are installed (apt-get install postgresql)";
      return s;
    }
    s->dir = (std::filesystem::temp_directory_path() / ("firebreak-pglog-" + std::to_string(::getpid()))).string();
    int status = 0;
    std::string out = Shell("bash " FIREBREAK_SOURCE_DIR "/scripts/pg-local.sh start " + s->dir + " 2>&1", &status);
    if (status != 0) {
      s->why = "scripts/pg-local.sh could not start a server: " + out;
      s->dir.clear();
      return s;
    }
    s->url = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
    std::atexit([] {
      int st = 0;
      if (!Server().dir.empty()) Shell("bash " FIREBREAK_SOURCE_DIR "/scripts/pg-local.sh stop " + Server().dir, &st);
    });
    return s;
  }();
  return *server;
}

#define REQUIRE_PG()                                                                     \
  do {                                                                                   \
    if (::firebreak::testing_pg::Server().url.empty()) GTEST_SKIP() << "no PostgreSQL server: " << ::firebreak::testing_pg::Server().why; \
  } while (0)

// `url` with its database replaced by `db` (the URLs pg-local.sh prints).
inline std::string WithDatabase(const std::string& url, const std::string& db) {
  size_t slash = url.find('/', url.find("://") + 3);
  size_t query = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

// The first column of the first row of `sql` (administration and checks).
// (On the test server, or on `url`.)
inline std::string Query(const std::string& sql, const std::string& url = "") {
  PGconn* c = PQconnectdb((url.empty() ? Server().url : url).c_str());
  std::string out;
  if (PQstatus(c) != CONNECTION_OK) {
    ADD_FAILURE() << "connecting: " << PQerrorMessage(c);
  } else {
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
    PGresult* r = PQexec(c, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      ADD_FAILURE() << sql << ": " << PQerrorMessage(c);
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

}  // namespace firebreak::testing_pg
