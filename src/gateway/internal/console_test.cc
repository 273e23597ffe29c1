// The console's pieces without a server: the static file table (no path
// leaves it; content types; headers) and the query parser. End to end over
// HTTPS and in a browser: web/console/test.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "gateway/internal/console.h"
#include "gateway/internal/static_files.h"

namespace firebreak::gateway::internal {
namespace {

namespace fs = std::filesystem;

std::string Header(const http::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / "fb_console_static";
    fs::remove_all(root_);
    fs::create_directories(root_ / "dist/assets");
    Write("dist/index.html", "<!doctype html><title>x</title>");
    Write("dist/assets/app-1.js", "console.log(1)");
    Write("dist/assets/app-1.css", "body{}");
    Write("dist/notes.md", "not served: unknown extension");
    Write("secret.json", "{\"key\": \"outside the root\"}");
    fs::create_symlink(root_ / "secret.json", root_ / "dist/assets/link.json");
  }
  void Write(const std::string& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }
  fs::path root_;
};

TEST_F(StaticFilesTest, ServesOnlyTheBuiltFilesWithTheirTypes) {
  auto files = StaticFiles::Load((root_ / "dist").string());
  ASSERT_TRUE(files) << files.error().ToString();
  EXPECT_EQ(files->size(), 3u);  // not notes.md, not the symlink
  http::Response index = files->Serve("");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Header(index, "Content-Security-Policy").rfind("default-src 'self';", 0), 0u);
  EXPECT_EQ(Header(index, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(index, "Cache-Control"), "no-cache");
  http::Response js = files->Serve("assets/app-1.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_NE(Header(js, "Cache-Control").find("immutable"), std::string::npos);
  EXPECT_EQ(files->Serve("assets/app-1.css").content_type, "text/css; charset=utf-8");
  for (const char* bad : {"../secret.json", "assets/../../secret.json", "assets/link.json", "notes.md", "assets",
                          "assets/", "/etc/passwd", "index.html/", "%2e%2e/secret.json", "./index.html"}) {
    http::Response r = files->Serve(bad);
    EXPECT_EQ(r.status, 404) << bad;
    EXPECT_EQ(r.body.find("outside the root"), std::string::npos) << bad;
    EXPECT_FALSE(Header(r, "Content-Security-Policy").empty()) << bad;
  }
}

TEST_F(StaticFilesTest, RefusesARootWithoutAnIndex) {
  fs::remove(root_ / "dist/index.html");
  auto files = StaticFiles::Load((root_ / "dist").string());
  ASSERT_FALSE(files);
  EXPECT_NE(files.error().message().find("index.html"), std::string::npos);
  EXPECT_FALSE(StaticFiles::Load((root_ / "nowhere").string()));
}

TEST(ConsoleQuery, DecodesAndRejectsBadEscapes) {
  std::map<std::string, std::string> q;
  ASSERT_TRUE(ParseQuery("a=1&purpose=immigration%2Denforcement&b=x+y&empty=&flag", &q));
  EXPECT_EQ(q["a"], "1");
  EXPECT_EQ(q["purpose"], "immigration-enforcement");
  EXPECT_EQ(q["b"], "x y");
  EXPECT_EQ(q["empty"], "");
  EXPECT_TRUE(q.count("flag"));
  for (const char* bad : {"a=%", "a=%2", "a=%zz", "a=%g0"}) {
    std::map<std::string, std::string> out;
    EXPECT_FALSE(ParseQuery(bad, &out)) << bad;
  }
}

TEST(ConsoleQuery, ContentTypes) {
  EXPECT_EQ(ContentTypeFor("a.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("a.map"), "");
  EXPECT_EQ(ContentTypeFor(".js"), "");
}

}  // namespace
}  // namespace firebreak::gateway::internal
