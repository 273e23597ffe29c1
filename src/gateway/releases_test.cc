// End to end over HTTPS with client certificates: transparency releases made
// through the console (POST /v1/console/reports) on a synthetic force. The
// release is logged before it is shown, its entry verifies and opens, asking
// again returns the stored numbers without a new entry, an over-budget ask
// is refused without an entry, and only the DPO may make one.
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/base.h"
#include "base/files.h"
#include "base/testing/suite.h"
#include "demo/demo.h"
#include "entry/entry.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"
#include "ledger/log_reader.h"
#include "ledger/note.h"
#include "ledger/storage.h"
#include "ledger/verify.h"
#include "oversight/audit/audit.h"

namespace firebreak::gateway {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kStrict = std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/strict-firewall";

using testing::Client;
using testing::Reply;

class ReleasesTest : public ::testing::Test {
 protected:
  static void Prepare() {
    dir_ = (fs::temp_directory_path() / ("releases_test_" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    demo::DemoOptions o;
    o.dir = dir_;
    o.subjects = 40;
    o.policy_packs = {kStrict};
    auto s = demo::CreateDemoForce(o);
    ASSERT_TRUE(s) << s.error().ToString();
    auto c = LoadConfig(s->config_path);
    ASSERT_TRUE(c) << c.error().ToString();
    ASSERT_EQ(c->reports_dir, dir_ + "/reports");  // the demo sets it
    c->port = 0;
    c->metrics_listen = "";
    c->access_log = false;
    c->publish_interval = std::chrono::milliseconds(20);
    c->worker_threads = 4;
    c->verify_policy = false;
    auto gw = Gateway::Start(*c);
    ASSERT_TRUE(gw) << gw.error().ToString();
    gw_ = std::move(*gw).release();
    port_ = gw_->port();
  }
  static void TearDownTestSuite() {
    delete gw_;
    gw_ = nullptr;
    fs::remove_all(dir_);
  }
  void SetUp() override {
    FIREBREAK_PREPARE_SUITE(Prepare);
    ASSERT_NE(gw_, nullptr);
  }
  static Reply As(const std::string& org, const std::string& method, const std::string& target,
                  const std::string& body = "") {
    Client c(dir_, port_, org);
    return c.Request(method, target, body);
  }
  // Every `release` entry of the published log (waiting until it covers
  // `at_least` entries), opened with the audit key; the log verified.
  static std::vector<json::object> ReleaseEntries(uint64_t at_least) {
    auto vkey = ReadFile(dir_ + "/keys/log.vkey");
    EXPECT_TRUE(vkey);
    std::string vk = *vkey;
    while (!vk.empty() && vk.back() == '\n') vk.pop_back();
    auto verifier = ledger::NoteVerifier::FromKeyText(vk);
    EXPECT_TRUE(verifier);
    auto storage = ledger::PosixStorage::OpenReadOnly(dir_ + "/log");
    EXPECT_TRUE(storage);
    ledger::FileReader read = [&](const std::string& p) { return storage->ReadFile(p); };
    ledger::LogReader reader(*storage, *verifier);
    auto key = entry::ReadAuditKey(dir_ + "/keys/audit.key");
    EXPECT_TRUE(key);
    for (int i = 0; i < 500; ++i) {
      auto snap = reader.Latest();
      if (snap && snap->checkpoint.size >= at_least) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto verified = ledger::VerifyLog(read, *verifier, "", nullptr);
    EXPECT_TRUE(verified) << verified.error().ToString();
    auto snap = reader.Latest();
    EXPECT_TRUE(snap);
    EXPECT_GE(snap->checkpoint.size, at_least);
    std::vector<json::object> out;
    EXPECT_TRUE(reader.ForEachEntry(*snap, 0, snap->checkpoint.size, [&](uint64_t i, std::string_view text) {
      auto parsed = entry::Parse(text);
      if (!parsed || !parsed->contains("kind") || parsed->at("kind") != "release") return Ok();
      // Sealed, padded like every sealed part: its size says nothing.
      std::string sealed(parsed->at("sealed").as_string());
      auto opened = entry::Open(text, entry::Keyring({*key}));
      EXPECT_TRUE(opened) << opened.error().ToString();
      json::object o = *opened;
      o["index"] = i;
      o["sealed_b64_size"] = sealed.size();
      out.push_back(std::move(o));
      return Ok();
    }));
    return out;
  }
  static inline std::string dir_;
  static inline Gateway* gw_ = nullptr;
  static inline int port_ = 0;
};

const std::string kAsk = R"({"from":"2025-01","to":"2025-03","period":"month","epsilon":"1/4","cap":2})";

TEST_F(ReleasesTest, MadeLoggedStoredAndRefusedOverBudget) {
  // Analysts and oversight see an empty list; a requester nothing.
  Reply empty = As(demo::kOrgAnalyst, "GET", "/v1/console/reports");
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(empty.Json().at("releases").as_array().size(), 0u);

  // Only the DPO makes a release.
  EXPECT_EQ(As(demo::kOrgAnalyst, "POST", "/v1/console/reports", kAsk).status, 403);
  EXPECT_EQ(As(demo::kOrgInspectorate, "POST", "/v1/console/reports", kAsk).status, 403);
  EXPECT_EQ(As(demo::kOrgImmigrationEnforcement, "POST", "/v1/console/reports", kAsk).status, 403);

  Reply made = As(demo::kOrgDpo, "POST", "/v1/console/reports", kAsk);
  ASSERT_EQ(made.status, 201) << made.body;
  json::object m = made.Json();
  EXPECT_TRUE(m.at("logged_now").as_bool());
  uint64_t index = m.at("log_index").to_number<uint64_t>();
  const json::object& rel = m.at("release").as_object();
  std::string id(rel.at("release").as_string());
  std::string hash(rel.at("output_sha256").as_string());
  ASSERT_EQ(id.size(), 64u);

  // Its entry is in the log, verifies, opens, and says what was released.
  std::vector<json::object> entries = ReleaseEntries(index + 1);
  ASSERT_EQ(entries.size(), 1u);
  const json::object& e = entries[0];
  EXPECT_EQ(e.at("index").to_number<uint64_t>(), index);
  const json::object& er = e.at("release").as_object();
  EXPECT_EQ(er.at("id"), rel.at("release"));
  EXPECT_EQ(er.at("output_hash"), rel.at("output_sha256"));
  EXPECT_EQ(er.at("epsilon"), "1/4");
  EXPECT_EQ(er.at("cap").to_number<int64_t>(), 2);
  EXPECT_EQ(er.at("mechanism"), rel.at("mechanism"));
  EXPECT_EQ(er.at("cells").to_number<uint64_t>(), rel.at("numbers").at("cells").as_array().size());
  EXPECT_EQ(e.at("opened").at("release"), rel.at("release"));
  EXPECT_EQ(e.at("requester").at("org"), demo::kOrgDpo);

  // Asked again: the same numbers, no new entry.
  Reply again = As(demo::kOrgDpo, "POST", "/v1/console/reports", kAsk);
  ASSERT_EQ(again.status, 200) << again.body;
  json::object a = again.Json();
  EXPECT_FALSE(a.at("logged_now").as_bool());
  EXPECT_EQ(a.at("log_index").to_number<uint64_t>(), index);
  EXPECT_EQ(a.at("release").at("numbers"), rel.at("numbers"));
  EXPECT_EQ(a.at("release").at("output_sha256"), rel.at("output_sha256"));

  // Over the year's budget (1): refused, nothing logged, nothing charged.
  Reply over = As(demo::kOrgDpo, "POST", "/v1/console/reports",
                  R"({"from":"2025-04","to":"2025-04","epsilon":"1","cap":1})");
  EXPECT_EQ(over.status, 409) << over.body;
  EXPECT_NE(over.body.find("budget"), std::string::npos) << over.body;
  // A bad field is named.
  Reply bad = As(demo::kOrgDpo, "POST", "/v1/console/reports", R"({"from":"2025-04","to":"2025-04","cap":1})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json().at("error").at("field"), "epsilon") << bad.body;
  Reply bad_month = As(demo::kOrgDpo, "POST", "/v1/console/reports", R"({"from":"2025-13","to":"2025-04","epsilon":"1/8"})");
  EXPECT_EQ(bad_month.status, 400);
  EXPECT_EQ(bad_month.Json().at("error").at("field"), "from") << bad_month.body;
  // A release after the over-budget one is logged at the next index: the
  // refusal wrote nothing in between.
  Reply next = As(demo::kOrgDpo, "POST", "/v1/console/reports",
                  R"({"from":"2025-05","to":"2025-05","epsilon":"1/8","cap":1})");
  ASSERT_EQ(next.status, 201) << next.body;
  uint64_t next_index = next.Json().at("log_index").to_number<uint64_t>();
  std::vector<json::object> after = ReleaseEntries(next_index + 1);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].at("index").to_number<uint64_t>(), next_index);

  // The list and one release, for analysts and oversight; never a requester.
  for (const char* org : {demo::kOrgAnalyst, demo::kOrgInspectorate, demo::kOrgDpo}) {
    Reply list = As(org, "GET", "/v1/console/reports");
    ASSERT_EQ(list.status, 200) << org << list.body;
    json::object l = list.Json();
    ASSERT_EQ(l.at("releases").as_array().size(), 2u) << org;
    EXPECT_EQ(l.at("spent_this_year"), "3/8");
    EXPECT_EQ(l.at("yearly_budget"), "1");
    Reply one = As(org, "GET", "/v1/console/reports/" + id);
    ASSERT_EQ(one.status, 200) << org << one.body;
    EXPECT_EQ(one.Json().at("release").at("numbers"), rel.at("numbers"));
    EXPECT_EQ(one.Json().at("release").at("output_sha256"), json::value(hash));
  }
  Reply html = As(demo::kOrgAnalyst, "GET", "/v1/console/reports/" + id + "?format=html");
  EXPECT_EQ(html.status, 200);
  EXPECT_NE(html.body.find("<svg"), std::string::npos);
  Reply csv = As(demo::kOrgAnalyst, "GET", "/v1/console/reports/" + id + "?format=csv");
  EXPECT_EQ(csv.status, 200);
  EXPECT_EQ(csv.body.find("<"), std::string::npos);
  EXPECT_EQ(As(demo::kOrgAnalyst, "GET", "/v1/console/reports/" + id + "?format=pdf").status, 400);
  EXPECT_EQ(As(demo::kOrgAnalyst, "GET", "/v1/console/reports/" + std::string(64, 'a')).status, 404);
  EXPECT_EQ(As(demo::kOrgAnalyst, "GET", "/v1/console/reports/../../etc/passwd").status, 404);
  for (const char* org : {demo::kOrgImmigrationEnforcement, demo::kOrgRecordsSystem, demo::kOrgVictimService}) {
    EXPECT_EQ(As(org, "GET", "/v1/console/reports").status, 403) << org;
    EXPECT_EQ(As(org, "GET", "/v1/console/reports/" + id).status, 403) << org;
  }
  EXPECT_EQ(As(demo::kOrgDpo, "PUT", "/v1/console/reports", kAsk).status, 405);

  // The audit reads the release entries as a known kind.
  oversight::AuditOptions ao;
  ao.log_dir = dir_ + "/log";
  auto vkey = ReadFile(dir_ + "/keys/log.vkey");
  ASSERT_TRUE(vkey);
  std::string vk = *vkey;
  while (!vk.empty() && vk.back() == '\n') vk.pop_back();
  auto verifier = ledger::NoteVerifier::FromKeyText(vk);
  ASSERT_TRUE(verifier);
  ao.log_key = *verifier;
  auto key = entry::ReadAuditKey(dir_ + "/keys/audit.key");
  ASSERT_TRUE(key);
  ao.keys = entry::Keyring({*key});
  ao.packs_dir = std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk";
  auto audit = oversight::RunAudit(ao);
  ASSERT_TRUE(audit) << audit.error().ToString();
  EXPECT_TRUE(audit->log_verified);
  for (const auto& f : audit->findings) {
    EXPECT_EQ(f.sentence.find("unknown kind"), std::string::npos) << f.sentence;
    if (f.index) {
      EXPECT_NE(*f.index, index) << f.sentence;
    }
  }
}

}  // namespace
}  // namespace firebreak::gateway
