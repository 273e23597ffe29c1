// `firebreak demo`: creates a synthetic holder — a police force, an NHS
// trust or a school (`--holder`) — with no real people, and prints a
// walk-through with ready `curl` commands.
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "demo/demo.h"

namespace firebreak::cli {
namespace {

struct DemoCommandOptions {
  std::string dir;
  std::string store;
  int64_t subjects = 100000;
  uint64_t seed = 20201217;
  std::string holder = "police-force";
  std::vector<std::string> policies;  // empty: the holder's default pack
  std::string listen = "127.0.0.1:8443";
};

std::string Curl(const std::string& dir, const std::string& org, const std::string& url,
                 const std::string& body) {
  std::string cmd = fmt::format(
      "curl -s --cacert {0}/pki/ca.pem --cert {0}/pki/clients/{1}.pem --key {0}/pki/clients/{1}.key \\\n"
      "    {2}",
      dir, org, url);
  if (!body.empty()) cmd += fmt::format(" \\\n    -H 'content-type: application/json' -d '{}'", body);
  return cmd;
}

int Run(const DemoCommandOptions& o) {
  namespace fs = std::filesystem;
  auto start = std::chrono::steady_clock::now();
  demo::DemoOptions d;
  if (!demo::ParseHolder(o.holder, &d.holder)) {
    fmt::print(stderr, "firebreak demo: --holder must be police-force, nhs-trust or school, not `{}`\n", o.holder);
    return kExitUsage;
  }
  std::vector<std::string> policies = o.policies;
  if (policies.empty()) policies.push_back(demo::DefaultPolicyPack(d.holder));
  d.dir = o.dir;
  d.store = o.store;
  d.subjects = o.subjects;
  d.seed = o.seed;
  d.listen = o.listen;
  for (const auto& p : policies) d.policy_packs.push_back(fs::absolute(p).lexically_normal().string());
  for (const auto& p : d.policy_packs) {
    if (!fs::exists(fs::path(p) / "pack.fbp")) {
      fmt::print(stderr, "firebreak demo: {} is not a policy pack (no pack.fbp)\n", p);
      return kExitUsage;
    }
  }
  bool tty = isatty(STDERR_FILENO);
  if (tty) {
    d.progress = [](int64_t done, int64_t total) {
      fmt::print(stderr, "\rfirebreak demo: {:>7} / {} subjects", done, total);
      if (done >= total) fmt::print(stderr, "\n");
    };
  }
  auto summary = demo::CreateDemoForce(d);
  if (!summary) {
    if (tty) fmt::print(stderr, "\n");
    fmt::print(stderr, "firebreak demo: {}\n", summary.error().ToString());
    return kExitUsage;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string dir = fs::absolute(o.dir).lexically_normal().string();
  std::string port = o.listen.substr(o.listen.rfind(':') + 1);
  // Port 0: the gateway picks one at start and prints it in its
  // "listening" line; the commands below use $PORT for it.
  bool ephemeral = port == "0";
  std::string base = "https://localhost:" + (ephemeral ? std::string("$PORT") : port);
  fmt::print(
      "Created a synthetic {} in {} ({:.1f} s): {} subjects, {} cases, {} records. No real people.\n"
      "Policy: {}\nLog verifier key: {}\n\n",
      d.holder == demo::Holder::kPoliceForce ? "police force"
      : d.holder == demo::Holder::kNhsTrust  ? "NHS trust"
                                              : "school",
      dir, secs, summary->subjects, summary->cases, summary->records, fmt::join(d.policy_packs, ", "),
      summary->log_verifier_key);
  fmt::print("Organisations (client certificate pki/clients/<id>.pem, token tokens/<id>.token):\n");
  for (const auto& org : summary->orgs) {
    fmt::print("  {:<32} {:<38} {}\n", org.id, org.type, org.scope);
  }
  fmt::print("\nStart the gateway:\n  firebreak serve --config {}/firebreak.json{}\n\n", dir,
             ephemeral ? fmt::format(" --port-file {}/port\n\n"
                                     "It listens on a port chosen at start (--listen {}): set it for the commands below:\n"
                                     "  PORT=$(cat {}/port)",
                                     dir, o.listen, dir)
                       : "");
  // The holder's own steps, then the steps every holder shares.
  int step = 0;
  for (const demo::WalkStep& w : demo::WalkThrough(d.holder)) {
    fmt::print("{}. {}\n{}\n\n", ++step, w.text, Curl(dir, w.org, base + w.path, w.body));
  }
  std::string admin = demo::kOrgDpo, requester = demo::kOrgImmigrationEnforcement;
  for (const auto& org : summary->orgs) {
    if (org.scope == "admin") admin = org.id;
  }
  fmt::print("{}. A receipt (C2SP tlog-proof) for any answer above, and the public log:\n"
             "{}\n"
             "   curl -s --cacert {}/pki/ca.pem {}/log/checkpoint\n\n",
             ++step, Curl(dir, requester, base + "/v1/receipts/<receipt id>", ""), dir, base);
  fmt::print("{0}. Bearer tokens work too: this demo configuration turns them on (\"bearer_tokens\": true;\n"
             "   off by default, never for the DPO's admin scope). For development only:\n"
             "   curl -s --cacert {1}/pki/ca.pem -H \"authorization: Bearer $(cat {1}/tokens/{2}.token)\" {3}/v1/disclosures -d '...'\n\n",
             ++step, dir, requester, base);
  fmt::print("{}. Reload the policy (SIGHUP, or as the DPO with its client certificate). A reload that\n"
             "   drops or alters a firewall rule or guarantee of the policy loaded at start is refused,\n"
             "   and every reload, accepted or refused, is an entry in the decision log:\n{}\n\n",
             ++step, Curl(dir, admin, "-X POST " + base + "/admin/reload", ""));
  fmt::print("{}. The holder's metrics (the DPO's certificate, or the metrics listener on loopback):\n{}\n"
             "   curl -s http://{}/metrics\n\n",
             ++step, Curl(dir, admin, base + "/metrics", ""), demo::MetricsListenFor(o.listen));
  fmt::print("Planted subjects (the scenario matrix, domain.md §8.6):\n");
  for (const auto& p : demo::PlantedSubjects(d.holder)) {
    fmt::print("  {}  {} {} ({})  {}\n", p.reference, p.given_name, p.family_name, p.date_of_birth, p.about);
  }
  return kExitOk;
}

}  // namespace

void AddDemoCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<DemoCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Create a synthetic police force, NHS trust or school (no real people) with a CA, keys, a log and a config");
  cmd->add_option("--holder", opts->holder, "The holder to create: police-force, nhs-trust or school")
      ->capture_default_str();
  cmd->add_option("--dir", opts->dir, "Directory to create (must not exist or be empty)")->required();
  cmd->add_option("--store", opts->store,
                  "The store to populate, a postgresql:// URL of an empty database (default: store.db in --dir)");
  cmd->add_option("--subjects", opts->subjects, "Number of subjects")->check(CLI::Range(int64_t(0), int64_t(10000000)))->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the generator")->capture_default_str();
  cmd->add_option("--policy", opts->policies,
                  "Policy pack directories for the config (default: the holder's pack, e.g. "
                  "policies/uk/strict-firewall for a police force)");
  cmd->add_option("--listen", opts->listen, "Address the config's gateway listens on")->capture_default_str();
  cmd->callback([opts, exit_code] { *exit_code = Run(*opts); });
}

}  // namespace firebreak::cli
