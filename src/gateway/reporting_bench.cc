// The reporting pathway's and the tracker's speed (docs/benchmarks.md,
// "## Reporting and tracker"): a demo force's gateway over HTTPS with client
// certificates and keep-alive.
//   1. intake: `--clients` connections of the victims' service send
//      `--reports` reports (each one durable SQLite transaction with
//      synchronous=FULL, and a sealed log entry, before its answer); prints
//      reports per second and latency percentiles;
//   2. tracker: one reported person with `--decisions` decisions about her
//      (the force's own status checks, all refused), interleaved with
//      `--filler` decisions about other people; then `--queries` tracker
//      queries (the first page of 50, with receipts) and evidence-pack
//      exports (every line, with receipts); prints p50/p99 of each.
//
//   reporting_bench [--reports 4000] [--clients 16] [--decisions 1000] [--filler 50000] [--queries 200]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "demo/demo.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace firebreak;
using namespace firebreak::gateway;

namespace {

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

std::string ReportBody(int i) {
  std::string given = "Bench";
  for (int v = i, k = 0; k < 6; ++k, v /= 26) given += char('a' + v % 26);
  return json::serialize(json::object{
      {"role", "victim"},
      {"offence", "domestic-abuse"},
      {"person", {{"given_name", given}, {"family_name", "Reporter"}, {"date_of_birth", "1990-01-01"}}},
      {"incident", {{"narrative", "Reported through the victims' service."}}}});
}

}  // namespace

int main(int argc, char** argv) {
  int reports = 4000, clients = 16, decisions = 1000, filler = 50000, queries = 200;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--reports") reports = next();
    else if (a == "--clients") clients = next();
    else if (a == "--decisions") decisions = next();
    else if (a == "--filler") filler = next();
    else if (a == "--queries") queries = next();
    else if (a == "--help" || a == "-h") {
      std::printf("reporting_bench [--reports N] [--clients N] [--decisions N] [--filler N] [--queries N]\n"
                  "  intake throughput (durable reports per second) and tracker query latency\n");
      return 0;
    } else {
      std::fprintf(stderr, "reporting_bench: unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  std::string dir = (fs::current_path() / ("reporting_bench." + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  demo::DemoOptions o;
  o.dir = dir;
  o.subjects = 2000;
  o.policy_packs = {std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/strict-firewall"};
  auto force = demo::CreateDemoForce(o);
  if (!force) {
    std::fprintf(stderr, "reporting_bench: %s\n", force.error().ToString().c_str());
    return 2;
  }
  auto config = LoadConfig(force->config_path);
  config->port = 0;
  config->metrics_listen = "";
  config->access_log = false;
  config->verify_policy = false;
  config->publish_interval = std::chrono::milliseconds(200);
  config->reports_per_second = 1e6;
  config->reports_burst = 1e6;
  config->worker_threads = 32;
  auto gw = Gateway::Start(*config);
  if (!gw) {
    std::fprintf(stderr, "reporting_bench: %s\n", gw.error().ToString().c_str());
    return 2;
  }
  uint16_t port = (*gw)->port();

  // 1. Intake.
  {
    std::atomic<int> next{0}, failed{0};
    std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        testing::Client client(dir, port, demo::kOrgVictimService);
        for (int i; (i = next++) < reports;) {
          testing::Reply r = client.Post("/v1/reports", ReportBody(i));
          if (r.status != 201) ++failed;
          lat[size_t(c)].push_back(std::chrono::duration<double, std::milli>(r.elapsed).count());
        }
      });
    }
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    std::printf("intake: %d reports from %d connections in %.2f s: %.0f reports/s durable; latency p50 %.1f ms, "
                "p99 %.1f ms (%d not 201)\n",
                reports, clients, secs, reports / secs, Pct(all, 0.5), Pct(all, 0.99), failed.load());
  }

  // 2. Tracker: one person with `decisions` decisions in a log of filler.
  testing::Client intake(dir, port, demo::kOrgVictimService);
  testing::Reply rep = intake.Post("/v1/reports", ReportBody(999999));
  std::string token(rep.Json().at("receipt_token").as_string());
  {
    // Her name for ReportBody(999999).
    std::string given = "Bench";
    for (int v = 999999, k = 0; k < 6; ++k, v /= 26) given += char('a' + v % 26);
    std::string body = testing::Disclosure("immigration-status-check", "status-check", {"identity", "nationality"},
                                           "iaa-1999-s20", "police-officer",
                                           json::serialize(json::object{{"given_name", given},
                                                                        {"family_name", "Reporter"},
                                                                        {"date_of_birth", "1990-01-01"}}));
    std::atomic<int> next{0}, failed{0};
    int total = decisions + filler;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&] {
        testing::Client client(dir, port, demo::kOrgRecordsSystem);
        for (int i; (i = next++) < total;) {
          // Every (total/decisions)-th request is about her.
          bool about_her = decisions > 0 && i % (total / decisions) == 0 && i / (total / decisions) < decisions;
          std::string other = testing::Disclosure(
              "immigration-status-check", "status-check", {"identity"}, "iaa-1999-s20", "police-officer",
              testing::Ref("DEMO-" + std::string(i % 2 ? "R03" : "R09")));
          testing::Reply r = client.Post("/v1/decisions", about_her ? body : other);
          if (r.status != 200) ++failed;
        }
      });
    }
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("log: %d decisions (%d about her) in %.1f s (%d not 200)\n", total, decisions, secs, failed.load());
  }
  testing::Client person(dir, port, "");
  std::vector<std::pair<std::string, std::string>> h{{"Firebreak-Tracker-Token", token}};
  testing::Reply first = person.Request("GET", "/v1/tracker", "", h);
  json::object answer = first.Json();
  std::printf("tracker: status %d, %llu lines about her, log size %llu\n", first.status,
              answer.contains("total") ? (unsigned long long)answer.at("total").to_number<uint64_t>() : 0ull,
              answer.contains("checkpoint_size") ? (unsigned long long)answer.at("checkpoint_size").to_number<uint64_t>()
                                                 : 0ull);
  for (const char* target : {"/v1/tracker", "/v1/tracker/export"}) {
    std::vector<double> ms;
    int failed = 0;
    int n = std::string(target) == "/v1/tracker" ? queries : std::max(10, queries / 10);
    for (int i = 0; i < n; ++i) {
      testing::Reply r = person.Request("GET", target, "", h);
      if (r.status != 200) ++failed;
      ms.push_back(std::chrono::duration<double, std::milli>(r.elapsed).count());
    }
    std::printf("%s: %d queries one at a time: p50 %.1f ms, p99 %.1f ms (%d not 200)\n", target, n, Pct(ms, 0.5),
                Pct(ms, 0.99), failed);
  }
  (void)(*gw)->Stop();
  fs::remove_all(dir);
  return 0;
}
