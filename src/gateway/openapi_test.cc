// docs/openapi.yaml documents exactly the gateway's routes: every route of
// the route table (with the console's views in place of its prefix route)
// is a path and method of the file, and the file has no other. The live
// answers are checked against the file by web/console/test/openapi.test.mjs.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "gateway/internal/console.h"
#include "gateway/internal/service.h"

namespace firebreak::gateway::internal {
namespace {

const std::string kSource = FIREBREAK_SOURCE_DIR;

// "GET /v1/console/overview", … from the `paths:` block (two-space path
// keys, four-space method keys).
std::set<std::string> DocumentedRoutes(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line, path;
  bool in_paths = false;
  static const std::regex kPath(R"(^  (/[^:\s]*):\s*$)"), kMethod(R"(^    (get|post|put|patch|delete|head|options):\s*$)");
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ' && line[0] != '#') in_paths = line == "paths:";
    if (!in_paths) continue;
    std::smatch m;
    if (std::regex_match(line, m, kPath)) path = m[1];
    if (std::regex_match(line, m, kMethod) && !path.empty()) {
      std::string method = m[1];
      for (char& c : method) c = char(std::toupper(static_cast<unsigned char>(c)));
      out.insert(method + " " + path);
    }
  }
  return out;
}

std::set<std::string> TableRoutes() {
  std::set<std::string> out;
  for (const auto& [method, name] : RouteTable()) {
    if (name == "/v1/console/{view}") {
      for (const std::string& p : ConsolePaths()) out.insert(method + " " + p);
    } else {
      out.insert(method + " " + name);
    }
  }
  return out;
}

TEST(OpenApi, DocumentsExactlyTheRouteTable) {
  std::ifstream f(kSource + "/docs/openapi.yaml");
  ASSERT_TRUE(f) << "docs/openapi.yaml is missing";
  std::stringstream ss;
  ss << f.rdbuf();
  std::set<std::string> documented = DocumentedRoutes(ss.str()), table = TableRoutes();
  ASSERT_GT(documented.size(), 10u) << "the parser found too few paths: is `paths:` laid out as expected?";
  for (const std::string& r : table) EXPECT_TRUE(documented.count(r)) << r << " is served but not in docs/openapi.yaml";
  for (const std::string& r : documented) EXPECT_TRUE(table.count(r)) << r << " is in docs/openapi.yaml but not served";
}

TEST(OpenApi, TheParserSeesAMissingRoute) {
  // The check above can fail: a file without one route differs.
  std::string text = "openapi: 3.0.3\npaths:\n  /healthz:\n    get:\n      summary: x\n  /v1/decisions:\n    post:\n"
                     "components:\n  schemas:\n    /notapath:\n      get:\n";
  std::set<std::string> got = DocumentedRoutes(text);
  EXPECT_EQ(got, (std::set<std::string>{"GET /healthz", "POST /v1/decisions"}));
  EXPECT_NE(got, TableRoutes());
}

}  // namespace
}  // namespace firebreak::gateway::internal
