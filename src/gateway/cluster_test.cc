// Three gateway nodes (`firebreak serve` processes) of one synthetic force
// sharing a PostgreSQL store and log (issue 14), under load from clients
// spread over the nodes:
//  - the sequencing node is killed with SIGKILL at random instants (20
//    times; FIREBREAK_CLUSTER_KILLS) and restarted; another node takes the
//    lease. Afterwards every answered request's entry is in the log at its
//    receipt's index, the log verifies (`firebreak log verify` on the
//    database, and over HTTP from every node), and every checkpoint any node
//    served is consistent with the last;
//  - the database is stopped and started again under load: requests fail
//    closed (503, nothing disclosed) and succeed again without a restart.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "base/files.h"
#include "demo/demo.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"
#include "ledger/ledger.h"
#include "ledger/pg_storage.h"
#include "ledger/testing/pg_test_server.h"

namespace firebreak::gateway {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Reply;
using testing_pg::Query;
using testing_pg::Server;

const std::string kSource = FIREBREAK_SOURCE_DIR;
const std::string kBinary = std::string(FIREBREAK_BINARY_DIR) + "/src/cli/firebreak";
const char* kIe = demo::kOrgImmigrationEnforcement;
constexpr int kNodes = 3;
constexpr int kTermMs = 500;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

// A permitted disclosure (an offender with no firewall role), and one the
// firewall refuses: neither may ever be answered by anything but its own
// answer or a 503 that discloses nothing.
std::string Permitted() {
  return testing::Disclosure("immigration-enforcement", "disclose", {"address"}, "iaa-1999-s20",
                             "immigration-officer", testing::Ref("DEMO-R16"));
}

struct Node {
  std::string config;
  std::string port_file;
  pid_t pid = -1;
  std::atomic<int> port{0};  // 0 while down
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_PG();
    ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  }

  // A force on database `db` of the server at `server_url`, and the
  // configurations of the three nodes.
  void MakeForce(const std::string& server_url) {
    db_ = "t" + std::to_string(::getpid()) + "_" +
          std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()).substr(0, 40);
    std::transform(db_.begin(), db_.end(), db_.begin(), [](char c) { return char(std::tolower(c)); });
    admin_url_ = server_url;
    Query("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)", admin_url_);
    Query("CREATE DATABASE " + db_, admin_url_);
    url_ = testing_pg::WithDatabase(server_url, db_);
    dir_ = (fs::temp_directory_path() / ("cluster_test_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    demo::DemoOptions o;
    o.dir = dir_;
    o.store = url_;
    o.subjects = 60;
    o.policy_packs = {kSource + "/policies/uk/strict-firewall"};
    o.listen = "127.0.0.1:0";
    auto force = demo::CreateDemoForce(o);
    ASSERT_TRUE(force) << force.error().ToString();
    auto text = ReadFile(force->config_path);
    ASSERT_TRUE(text);
    json::object base = json::parse(*text).as_object();
    for (int i = 0; i < kNodes; ++i) {
      json::object c = base;
      c["log"] = json::object{{"database", "store"},
                              {"node", "n" + std::to_string(i)},
                              {"key", "keys/log.key"},
                              {"publish_interval_ms", 50},
                              {"lease_term_ms", kTermMs}};
      nodes_[i].config = dir_ + "/n" + std::to_string(i) + ".json";
      nodes_[i].port_file = dir_ + "/n" + std::to_string(i) + ".port";
      ASSERT_TRUE(WriteFileAtomically(nodes_[i].config, json::serialize(c)));
    }
    auto vkey = ReadFile(dir_ + "/keys/log.vkey");
    ASSERT_TRUE(vkey);
    vkey_ = *vkey;
    while (!vkey_.empty() && vkey_.back() == '\n') vkey_.pop_back();
  }

  void TearDown() override {
    stop_ = true;
    for (auto& t : threads_) t.join();
    for (Node& n : nodes_) Kill(n);
    if (!dir_.empty()) fs::remove_all(dir_);
    if (!db_.empty() && !own_server_) Query("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)", admin_url_);
  }

  // Starts node `i` and waits (bounded) until it listens.
  void Start(int i) {
    Node& n = nodes_[i];
    fs::remove(n.port_file);
    pid_t pid = ::fork();
    if (pid == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 2);
      ::execl(kBinary.c_str(), kBinary.c_str(), "serve", "--config", n.config.c_str(), "--port-file",
              n.port_file.c_str(), "--no-access-log", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    n.pid = pid;
    for (int k = 0; k < 1500 && !fs::exists(n.port_file); ++k) std::this_thread::sleep_for(10ms);
    auto text = ReadFile(n.port_file);
    ASSERT_TRUE(text) << "node " << i << " did not start";
    n.port = std::stoi(*text);
  }

  void Kill(Node& n) {
    if (n.pid <= 0) return;
    n.port = 0;
    ::kill(n.pid, SIGKILL);
    ::waitpid(n.pid, nullptr, 0);
    n.pid = -1;
  }

  // The node holding a live lease, or -1.
  int Sequencer() {
    std::string holder = Query("SELECT holder FROM fb_log_lease WHERE log = 'log' AND expires_at > clock_timestamp()",
                               url_);
    for (int i = 0; i < kNodes; ++i) {
      if (holder.rfind("n" + std::to_string(i) + "/", 0) == 0) return i;
    }
    return -1;
  }

  // Clients: two per node, each posting until stopped; every answer is a
  // 200 with its receipt or a 503 that discloses nothing.
  void StartClients() {
    for (int t = 0; t < 2 * kNodes; ++t) {
      threads_.emplace_back([this, t] {
        for (uint64_t k = 0; !stop_; ++k) {
          int port = nodes_[(t + int(k)) % kNodes].port;
          if (port == 0) {
            std::this_thread::sleep_for(5ms);
            continue;
          }
          Reply r = testing::Call(dir_, uint16_t(port), "POST", "/v1/disclosures", Permitted(), kIe);
          std::lock_guard lock(mu_);
          if (r.status == 200) {
            json::object o = r.Json();
            std::string receipt = o.contains("receipt") ? std::string(o.at("receipt").as_string()) : "";
            size_t dash = receipt.find('-');
            if (dash == std::string::npos) {
              bad_.push_back("a 200 without a receipt: " + r.body.substr(0, 200));
              continue;
            }
            answered_.emplace_back(std::stoull(receipt.substr(0, dash)), receipt.substr(dash + 1));
            ++ok_since_;
          } else if (r.status > 0) {
            ++refused_;
            if (r.status != 503 || r.body.find("address") != std::string::npos ||
                r.body.find("DEMO-R16") != std::string::npos) {
              bad_.push_back("answer " + std::to_string(r.status) + ": " + r.body.substr(0, 200));
            }
          }
        }
      });
    }
    // Now and then a checkpoint from some node (every one is checked
    // against the last at the end).
    threads_.emplace_back([this] {
      for (uint64_t k = 0; !stop_; ++k) {
        std::this_thread::sleep_for(100ms);
        int port = nodes_[k % kNodes].port;
        if (port == 0) continue;
        Reply r = testing::Call(dir_, uint16_t(port), "GET", "/log/checkpoint", "", "");
        if (r.status == 200) {
          std::lock_guard lock(mu_);
          served_.push_back(r.body);
        }
      }
    });
  }

  void StopClients() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
    stop_ = false;
  }

  // Everything answered is in the log; the log verifies from the database
  // (the CLI) and over HTTP from every node; every served checkpoint is
  // consistent with the last.
  void CheckLog() {
    auto verifier = ledger::NoteVerifier::FromKeyText(vkey_);
    ASSERT_TRUE(verifier);
    auto storage = ledger::PgLogStorage::Open(url_);
    ASSERT_TRUE(storage) << storage.error().ToString();
    uint64_t need = 0;
    for (const auto& [index, rid] : answered_) need = std::max(need, index + 1);
    ledger::LogReader reader(**storage, *verifier);
    Result<ledger::LogReader::Snapshot> snap = tl::make_unexpected(Internal("not read"));
    for (int k = 0; k < 500; ++k) {
      snap = reader.Latest();
      if (snap && snap->checkpoint.size >= need) break;
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(snap) << snap.error().ToString();
    ASSERT_GE(snap->checkpoint.size, need) << "answered entries are not published";
    std::map<uint64_t, std::string> by_index;
    for (const auto& [index, rid] : answered_) {
      ASSERT_TRUE(by_index.emplace(index, rid).second) << "two answers name index " << index;
    }
    auto next = by_index.begin();
    Status st = reader.ForEachEntry(*snap, 0, snap->checkpoint.size, [&](uint64_t i, std::string_view e) {
      if (next != by_index.end() && next->first == i) {
        if (e.find("\"request_id\":\"" + next->second + "\"") == std::string_view::npos) {
          return Status(tl::make_unexpected(DataLoss("entry " + std::to_string(i) + " is not the answered request's")));
        }
        ++next;
      }
      return Ok();
    });
    ASSERT_TRUE(st) << st.error().ToString();
    // The CLI, on the database.
    std::string cmd = kBinary + " log verify --dir '" + url_ + "' --vkey '" + dir_ + "/keys/log.vkey' >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    // Over HTTP, from every node.
    for (int i = 0; i < kNodes; ++i) {
      int port = nodes_[i].port;
      ASSERT_NE(port, 0);
      ledger::FileReader read = [&](const std::string& p) -> Result<std::string> {
        Reply r = testing::Call(dir_, uint16_t(port), "GET", "/log/" + p, "", "");
        if (r.status == 404) return tl::make_unexpected(NotFound(p));
        if (r.status != 200) return tl::make_unexpected(Unavailable(p + ": " + std::to_string(r.status)));
        return r.body;
      };
      auto report = ledger::VerifyLog(read, *verifier, "", nullptr);
      ASSERT_TRUE(report) << "node " << i << ": " << report.error().ToString();
      EXPECT_GE(report->checkpoint.size, need);
    }
    auto last = ledger::OpenCheckpoint(*(*storage)->ReadFile("checkpoint"), *verifier);
    ASSERT_TRUE(last);
    ledger::TileNodeReader tiles([&](const std::string& p) { return (*storage)->ReadFile(p); }, last->size);
    for (const std::string& note : served_) {
      // Served with cosignatures or not, the log's signature must hold.
      auto old = ledger::OpenCheckpoint(note, *verifier);
      ASSERT_TRUE(old) << old.error().ToString();
      if (old->size == 0) continue;
      ASSERT_LE(old->size, last->size);
      auto proof = ledger::ConsistencyProof(old->size, last->size, tiles.AsNodeReader());
      ASSERT_TRUE(proof);
      ASSERT_TRUE(ledger::VerifyConsistency(old->size, last->size, old->root, last->root, *proof))
          << "served checkpoint " << old->size << " is inconsistent with " << last->size;
    }
  }

  std::string admin_url_, db_, url_, dir_, vkey_;
  Node nodes_[kNodes];
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::pair<uint64_t, std::string>> answered_;  // (index, request id)
  std::vector<std::string> served_;
  std::vector<std::string> bad_;
  uint64_t ok_since_ = 0;
  uint64_t refused_ = 0;
  bool own_server_ = false;  // dropped with its server
};

TEST(ClusterConfig, TheSharedLogIsConfiguredOrTheFieldIsNamed) {
  std::string dir = (fs::temp_directory_path() / ("cluster_config_" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  demo::DemoOptions o;
  o.dir = dir;
  o.subjects = 10;
  o.policy_packs = {kSource + "/policies/uk/strict-firewall"};
  auto force = demo::CreateDemoForce(o);
  ASSERT_TRUE(force) << force.error().ToString();
  json::object base = json::parse(*ReadFile(force->config_path)).as_object();
  auto with = [&](json::object log, const std::string& store = "") {
    json::object c = base;
    c["log"] = std::move(log);
    if (!store.empty()) c["store"] = store;
    return ParseConfig(json::serialize(c), force->config_path);
  };
  const std::string pg = "postgresql://fb@/firebreak?host=/run/postgresql";
  auto ok = with({{"database", "store"}, {"node", "gw-a"}, {"key", "keys/log.key"}, {"lease_term_ms", 1500}}, pg);
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->log_database, pg);
  EXPECT_EQ(ok->node_name, "gw-a");
  EXPECT_EQ(ok->lease_term.count(), 1500);
  EXPECT_TRUE(ok->log_dir.empty());
  auto expect_error = [&](const Result<GatewayConfig>& c, const std::string& says) {
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().ToString().find(says), std::string::npos) << c.error().ToString();
  };
  // "store" with the store in SQLite; not a URL; both dir and database; a
  // bad node name; a term too short; an unknown key.
  expect_error(with({{"database", "store"}, {"node", "a"}, {"key", "keys/log.key"}}), "log.database");
  expect_error(with({{"database", "/var/lib/log"}, {"node", "a"}, {"key", "keys/log.key"}}), "log.database");
  expect_error(with({{"database", pg}, {"dir", "log"}, {"node", "a"}, {"key", "keys/log.key"}}), "exclude");
  expect_error(with({{"database", pg}, {"node", "a b"}, {"key", "keys/log.key"}}), "log.node");
  expect_error(with({{"database", pg}, {"key", "keys/log.key"}}), "node");
  expect_error(with({{"database", pg}, {"node", "a"}, {"key", "keys/log.key"}, {"lease_term_ms", 10}}),
               "lease_term_ms");
  expect_error(with({{"database", pg}, {"node", "a"}, {"key", "keys/log.key"}, {"epoch", 1}}), "log.epoch");
  fs::remove_all(dir);
}

TEST_F(ClusterTest, TheSequencerKilledAtRandomInstantsLosesNoAnsweredEntry) {
  ASSERT_NO_FATAL_FAILURE(MakeForce(Server().url));
  for (int i = 0; i < kNodes; ++i) ASSERT_NO_FATAL_FAILURE(Start(i));
  const int kills = EnvInt("FIREBREAK_CLUSTER_KILLS", 20);
  const unsigned seed =
      unsigned(EnvInt("FIREBREAK_CLUSTER_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
  std::printf("cluster test: %d kills, seed %u (FIREBREAK_CLUSTER_SEED to repeat)\n", kills, seed);
  std::mt19937 rng(seed);
  StartClients();
  std::vector<double> failover_ms;
  auto killed_at = std::chrono::steady_clock::now();
  for (int round = 0; round < kills; ++round) {
    // A node sequences, and some request was answered since the last kill.
    int seq = -1;
    auto until = std::chrono::steady_clock::now() + 60s;
    {
      std::lock_guard lock(mu_);
      ok_since_ = 0;
    }
    while (std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(5ms);
      {
        std::lock_guard lock(mu_);
        if (ok_since_ == 0) continue;
      }
      seq = Sequencer();
      if (seq >= 0) break;
    }
    ASSERT_GE(seq, 0) << "round " << round << ": no request answered within 60 s";
    if (round > 0) {
      failover_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                      killed_at).count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
    seq = Sequencer();
    if (seq < 0) {
      --round;
      continue;
    }
    Kill(nodes_[seq]);
    killed_at = std::chrono::steady_clock::now();
    ASSERT_NO_FATAL_FAILURE(Start(seq));
  }
  // Let the last fail-over finish, then stop the load.
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * kTermMs));
  StopClients();
  {
    std::lock_guard lock(mu_);
    for (const std::string& b : bad_) ADD_FAILURE() << b;
    std::printf("cluster test: %zu requests answered 200, %llu refused with 503\n", answered_.size(),
                static_cast<unsigned long long>(refused_));
  }
  ASSERT_GT(answered_.size(), 0u);
  ASSERT_NO_FATAL_FAILURE(CheckLog());
  std::sort(failover_ms.begin(), failover_ms.end());
  if (!failover_ms.empty()) {
    std::printf("cluster test: from a kill to the next answered request (lease term %d ms, node restart "
                "included where it raced): median %.0f ms, p99 %.0f ms, max %.0f ms\n",
                kTermMs, failover_ms[failover_ms.size() / 2],
                failover_ms[std::min(failover_ms.size() - 1, failover_ms.size() * 99 / 100)], failover_ms.back());
  }
}

TEST_F(ClusterTest, TheDatabaseStoppedUnderLoadFailsClosedAndRecoversWithoutARestart) {
  // A server of this test's own: stopping the shared one would break the
  // other tests running beside it.
  std::string pgdir = (fs::temp_directory_path() / ("cluster_pg_" + std::to_string(::getpid()))).string();
  std::string script = "bash " + kSource + "/scripts/pg-local.sh ";
  int status = 0;
  std::string url = testing_pg::Shell(script + "start " + pgdir + " 2>&1", &status);
  if (status != 0) GTEST_SKIP() << "no PostgreSQL server binaries to run a server of this test's own: " << url;
  struct StopServer {
    std::string cmd;
    ~StopServer() { int s = 0; testing_pg::Shell(cmd, &s); }
  } stop_server{script + "stop " + pgdir + " >/dev/null 2>&1"};
  own_server_ = true;
  url = url.substr(url.rfind('\n') == std::string::npos ? 0 : url.rfind('\n') + 1);
  ASSERT_NO_FATAL_FAILURE(MakeForce(url));
  for (int i = 0; i < kNodes; ++i) ASSERT_NO_FATAL_FAILURE(Start(i));
  StartClients();
  auto answered = [&] {
    std::lock_guard lock(mu_);
    return answered_.size();
  };
  for (int k = 0; k < 1000 && answered() < 20; ++k) std::this_thread::sleep_for(10ms);
  ASSERT_GE(answered(), 20u);

  // The database goes away for two seconds: requests fail closed.
  testing_pg::Shell(script + "halt " + pgdir + " 2>&1", &status);
  ASSERT_EQ(status, 0);
  std::this_thread::sleep_for(2s);
  uint64_t refused_during = 0;
  {
    std::lock_guard lock(mu_);
    refused_during = refused_;
  }
  testing_pg::Shell(script + "resume " + pgdir + " 2>&1", &status);
  ASSERT_EQ(status, 0);
  EXPECT_GT(refused_during, 0u) << "no request was refused while the database was down";
  // Recovered without a restart: requests are answered again on every node.
  size_t before = answered();
  for (int k = 0; k < 3000 && answered() < before + 30; ++k) std::this_thread::sleep_for(10ms);
  EXPECT_GE(answered(), before + 30) << "the nodes did not recover";
  for (int i = 0; i < kNodes; ++i) {
    Reply r;
    for (int k = 0; k < 100; ++k) {
      r = testing::Call(dir_, uint16_t(nodes_[i].port.load()), "POST", "/v1/disclosures", Permitted(), kIe);
      if (r.status == 200) break;
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(r.status, 200) << "node " << i << ": " << r.body;
    if (r.status == 200) {
      std::string receipt(r.Json().at("receipt").as_string());
      std::lock_guard lock(mu_);
      answered_.emplace_back(std::stoull(receipt.substr(0, receipt.find('-'))), receipt.substr(receipt.find('-') + 1));
    }
  }
  StopClients();
  {
    std::lock_guard lock(mu_);
    for (const std::string& b : bad_) ADD_FAILURE() << b;
  }
  ASSERT_NO_FATAL_FAILURE(CheckLog());
  for (Node& n : nodes_) Kill(n);
  db_.clear();  // goes with its server
}

}  // namespace
}  // namespace firebreak::gateway
