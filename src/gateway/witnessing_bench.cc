// The latency cost of `witnesses.wait` (docs/benchmarks.md, "## Witness"):
// one client sends disclosures one at a time over HTTPS keep-alive to a
// demo force's gateway with one local witness (`firebreak witness serve`,
// quorum 1), with the wait off and on, at two publish intervals; prints
// p50/p90/p99 of each.
//
//   witnessing_bench [--requests 200]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "demo/demo.h"
#include "gateway/gateway.h"
#include "gateway/testing/client.h"
#include "gateway/testing/witness_process.h"

namespace fs = std::filesystem;
using namespace firebreak;
using namespace firebreak::gateway;

int main(int argc, char** argv) {
  int requests = 200;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--requests" && i + 1 < argc) {
      requests = std::atoi(argv[++i]);
    } else if (a == "--help" || a == "-h") {
      std::printf("witnessing_bench [--requests N]: disclosure latency with witnesses.wait off and on\n");
      return 0;
    } else {
      std::fprintf(stderr, "witnessing_bench: unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  std::string dir = (fs::current_path() / ("witnessing_bench." + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  demo::DemoOptions o;
  o.origin = "firebreak.example/example-constabulary/decisions";
  o.dir = dir + "/force";
  o.subjects = 1000;
  o.policy_packs = {std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/strict-firewall"};
  auto force = demo::CreateDemoForce(o);
  if (!force) {
    std::fprintf(stderr, "witnessing_bench: %s\n", force.error().ToString().c_str());
    return 2;
  }
  std::string log_vkey = testing::Trimmed(*ReadFile(o.dir + "/keys/log.vkey"));
  testing::WitnessProcess w;
  w.name = "witness.example/bench";
  w.dir = dir + "/w";
  if (!w.Start(o.origin, log_vkey)) {
    std::fprintf(stderr, "witnessing_bench: the witness did not start (%s)\n", testing::kFirebreakBinary.c_str());
    return 2;
  }
  const std::string body = testing::Disclosure(
      "immigration-enforcement", "disclose", {"address"}, "iaa-1999-s20", "immigration-officer",
      R"({"given_name":"jakub","family_name":"KOWALSKI","date_of_birth":"1983-03-03"})");
  for (int interval : {50, 500}) {
    for (bool wait : {false, true}) {
      auto config = LoadConfig(force->config_path);
      config->port = 0;
      config->metrics_listen = "";
      config->access_log = false;
      config->publish_interval = std::chrono::milliseconds(interval);
      config->witnesses = {{w.url(), w.key->Verifier().KeyText()}};
      config->witness_quorum = 1;
      config->witness_wait = wait;
      auto gw = Gateway::Start(*config);
      if (!gw) {
        std::fprintf(stderr, "witnessing_bench: %s\n", gw.error().ToString().c_str());
        return 2;
      }
      testing::Client client(o.dir, (*gw)->port(), demo::kOrgImmigrationEnforcement);
      std::vector<double> ms;
      int failed = 0;
      for (int i = 0; i < requests + 10; ++i) {
        testing::Reply r = client.Post("/v1/disclosures", body);
        if (r.status != 200) ++failed;
        if (i >= 10) ms.push_back(std::chrono::duration<double, std::milli>(r.elapsed).count());
      }
      std::sort(ms.begin(), ms.end());
      auto pct = [&](double p) { return ms[std::min(ms.size() - 1, size_t(p * ms.size()))]; };
      std::printf("publish_interval %3d ms, witnesses.wait %-5s: %d disclosures one at a time: p50 %.1f ms, "
                  "p90 %.1f ms, p99 %.1f ms (%d not 200)\n",
                  interval, wait ? "true" : "false", requests, pct(0.5), pct(0.9), pct(0.99), failed);
      (void)(*gw)->Stop();
    }
  }
  w.Kill();
  fs::remove_all(dir);
  return 0;
}
