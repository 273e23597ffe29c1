// `firebreak verify`, `firebreak diff` and `firebreak lint`: the verifier's
// commands (docs/verification.md).
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "base/files.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "policy/policy.h"
#include "verify/verify.h"

namespace firebreak::cli {
namespace {
namespace json = boost::json;

// The policy sets the PATHs name: each pack on its own (a directory holding
// packs gives each of them), or all PATHs as one set.
Result<std::vector<std::vector<std::string>>> SetsFromPaths(const std::vector<std::string>& paths,
                                                            bool as_one_set) {
  std::vector<std::vector<std::string>> sets;
  if (as_one_set) {
    sets.push_back(paths);
    return sets;
  }
  for (const std::string& p : paths) {
    FB_ASSIGN_OR_RETURN(std::vector<std::string> packs, policy::FindPacks(p));
    for (const std::string& dir : packs) sets.push_back({dir});
  }
  return sets;
}

std::string Label(const std::vector<std::string>& dirs) {
  std::vector<std::string> names;
  for (const std::string& d : dirs) {
    std::filesystem::path p(d);
    if (p.filename().empty()) p = p.parent_path();
    names.push_back(p.filename().string());
  }
  return fmt::format("{}", fmt::join(names, "+"));
}

// Loads one set; prints problems and returns null on failure.
std::shared_ptr<const policy::PolicySet> Load(const std::vector<std::string>& dirs, const char* cmd) {
  auto loaded = policy::LoadPolicySet(dirs);
  if (!loaded) {
    fmt::print(stderr, "firebreak {}: {}\n", cmd, loaded.error().message());
    return nullptr;
  }
  if (!loaded->ok()) {
    fmt::print(stderr, "{}", loaded->Render());
    return nullptr;
  }
  return loaded->set;
}

// ---- verify ----

struct VerifyOptions {
  std::vector<std::string> paths;
  bool as_one_set = false;
  std::string counterexample_dir;
  uint32_t timeout_ms = 30000;
};

int RunVerify(const VerifyOptions& o) {
  auto sets = SetsFromPaths(o.paths, o.as_one_set);
  if (!sets) {
    fmt::print(stderr, "firebreak verify: {}\n", sets.error().message());
    return kExitUsage;
  }
  if (!o.counterexample_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.counterexample_dir, ec);
    if (ec) {
      fmt::print(stderr, "firebreak verify: cannot create {}: {}\n", o.counterexample_dir, ec.message());
      return kExitUsage;
    }
  }
  verify::Options options;
  options.timeout_ms = o.timeout_ms;
  size_t proved = 0, refuted = 0, unknown = 0;
  int rc = kExitOk;
  for (const auto& dirs : *sets) {
    auto set = Load(dirs, "verify");
    if (!set) return kExitUsage;
    std::string what = dirs.size() == 1 ? dirs[0] : Label(dirs);
    if (set->guarantees.empty()) {
      fmt::print("{}: no guarantees\n", what);
      continue;
    }
    auto report = verify::VerifyGuarantees(set, options);
    if (!report) {
      fmt::print(stderr, "firebreak verify: {}: {}\n", what, report.error().ToString());
      return kExitUsage;
    }
    fmt::print("{}: {} guarantees, policy {} (encoded in {:.1f} ms)\n", what, set->guarantees.size(),
               set->hash, report->encode_millis);
    for (const verify::GuaranteeResult& g : report->guarantees) {
      fmt::print("  {:<8} {}  {:.1f} ms\n", verify::OutcomeName(g.outcome), g.name, g.millis);
      if (g.outcome == verify::Outcome::kProved) {
        ++proved;
        continue;
      }
      rc = kExitFindings;
      if (g.outcome == verify::Outcome::kUnknown) {
        ++unknown;
        fmt::print("           Z3 could not decide: {}\n", g.reason);
        continue;
      }
      ++refuted;
      std::string text = json::serialize(engine::RequestToJson(*g.counterexample, *set->schema));
      fmt::print("           counterexample: {}\n", text);
      fmt::print("           decision: {}\n", verify::DescribeDecision(g.decision, *set));
      if (!o.counterexample_dir.empty()) {
        std::filesystem::path dir(o.counterexample_dir);
        if (sets->size() > 1) dir /= Label(dirs);
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        std::string path = (dir / (g.name + ".json")).string();
        if (auto w = WriteFileAtomically(path, text + "\n"); !w) {
          fmt::print(stderr, "firebreak verify: {}\n", w.error().message());
          return kExitUsage;
        }
        fmt::print("           written to {}\n", path);
      }
    }
  }
  fmt::print("{} proved, {} refuted, {} unknown\n", proved, refuted, unknown);
  return rc;
}

// ---- diff ----

struct DiffCliOptions {
  std::string a, b;
  size_t max_witnesses = 3;
  bool json = false;
  uint32_t timeout_ms = 30000;
};

std::string KindHeading(verify::DiffKind k, const std::string& a, const std::string& b) {
  switch (k) {
    case verify::DiffKind::kOnlyAPermits: return fmt::format("{} permits, {} denies", a, b);
    case verify::DiffKind::kOnlyBPermits: return fmt::format("{} permits, {} denies", b, a);
    case verify::DiffKind::kDisclosedDiffers: return "both permit, different categories disclosed";
    case verify::DiffKind::kObligationsDiffer: return "same decision, different obligations";
  }
  return "";
}

int RunDiff(const DiffCliOptions& o) {
  auto a = Load({o.a}, "diff");
  if (!a) return kExitUsage;
  auto b = Load({o.b}, "diff");
  if (!b) return kExitUsage;
  verify::DiffOptions options;
  options.timeout_ms = o.timeout_ms;
  options.max_witnesses = o.max_witnesses;
  options.label_a = Label({o.a});
  options.label_b = Label({o.b});
  if (options.label_a == options.label_b) {
    options.label_a = "A (" + options.label_a + ")";
    options.label_b = "B (" + options.label_b + ")";
  }
  auto report = verify::DiffSets(a, b, options);
  if (!report) {
    fmt::print(stderr, "firebreak diff: {}\n", report.error().ToString());
    return kExitUsage;
  }
  auto ea = engine::Engine::Compile(a), eb = engine::Engine::Compile(b);
  if (o.json) {
    json::array kinds;
    for (const verify::DiffKindResult& k : report->kinds) {
      json::array ws;
      for (const verify::DiffWitness& w : k.witnesses) {
        ws.push_back(json::object{{"summary", w.summary},
                                  {"request", engine::RequestToJson(w.request, *a->schema)},
                                  {"decision_a", ea->ToJson(w.a, w.request)},
                                  {"decision_b", eb->ToJson(w.b, w.request)}});
      }
      json::object ko{{"kind", verify::DiffKindName(k.kind)},
                      {"outcome", k.outcome == verify::Outcome::kProved    ? "none"
                                  : k.outcome == verify::Outcome::kRefuted ? "found"
                                                                           : "unknown"},
                      {"witnesses", std::move(ws)}};
      if (!k.reason.empty()) ko["reason"] = k.reason;
      kinds.push_back(std::move(ko));
    }
    json::object out{{"a", options.label_a},
                     {"b", options.label_b},
                     {"policy_a", a->hash},
                     {"policy_b", b->hash},
                     {"equivalent", report->equivalent()},
                     {"millis", report->millis},
                     {"differences", std::move(kinds)}};
    fmt::print("{}\n", json::serialize(out));
  } else {
    fmt::print("{} vs {}: {} ({:.0f} ms)\n", options.label_a, options.label_b,
               report->equivalent() ? "equivalent: they decide every request alike"
               : report->any_unknown() && !std::any_of(report->kinds.begin(), report->kinds.end(),
                                                       [](const auto& k) { return !k.witnesses.empty(); })
                   ? "not shown equivalent (Z3 could not decide)"
                   : "different",
               report->millis);
    for (const verify::DiffKindResult& k : report->kinds) {
      std::string heading = KindHeading(k.kind, options.label_a, options.label_b);
      if (k.outcome == verify::Outcome::kProved) {
        fmt::print("\n{}: never\n", heading);
        continue;
      }
      if (k.outcome == verify::Outcome::kUnknown) {
        fmt::print("\n{}: unknown (Z3: {})\n", heading, k.reason);
        continue;
      }
      fmt::print("\n{}: {} witness{}\n", heading, k.witnesses.size(), k.witnesses.size() == 1 ? "" : "es");
      for (size_t i = 0; i < k.witnesses.size(); ++i) {
        const verify::DiffWitness& w = k.witnesses[i];
        fmt::print("  {}. {}\n", i + 1, w.summary);
        fmt::print("     request: {}\n", json::serialize(engine::RequestToJson(w.request, *a->schema)));
        fmt::print("     {}: {}\n", options.label_a, verify::DescribeDecision(w.a, *a));
        fmt::print("     {}: {}\n", options.label_b, verify::DescribeDecision(w.b, *b));
      }
    }
  }
  return report->equivalent() ? kExitOk : kExitFindings;
}

// ---- lint ----

struct LintCliOptions {
  std::vector<std::string> paths;
  bool as_one_set = false;
  std::string today;
  uint32_t timeout_ms = 30000;
};

int RunLint(const LintCliOptions& o) {
  verify::LintOptions options;
  options.timeout_ms = o.timeout_ms;
  if (o.today.empty()) {
    std::time_t now = std::time(nullptr);
    options.today = int64_t(now) - int64_t(now) % 86400;
  } else if (!policy::ParseTimestamp(o.today, &options.today)) {
    fmt::print(stderr, "firebreak lint: --today: expected a date such as 2026-01-31, got `{}`\n", o.today);
    return kExitUsage;
  }
  auto sets = SetsFromPaths(o.paths, o.as_one_set);
  if (!sets) {
    fmt::print(stderr, "firebreak lint: {}\n", sets.error().message());
    return kExitUsage;
  }
  size_t total = 0;
  for (const auto& dirs : *sets) {
    auto set = Load(dirs, "lint");
    if (!set) return kExitUsage;
    auto findings = verify::Lint(set, options);
    if (!findings) {
      fmt::print(stderr, "firebreak lint: {}\n", findings.error().ToString());
      return kExitUsage;
    }
    std::string what = dirs.size() == 1 ? dirs[0] : Label(dirs);
    fmt::print("{}: {} finding{}\n", what, findings->size(), findings->size() == 1 ? "" : "s");
    for (const verify::LintFinding& f : *findings) {
      fmt::print("  {}: warning[{}]: {}\n", f.location.empty() ? f.item : f.location,
                 verify::LintKindName(f.kind), f.message);
    }
    total += findings->size();
  }
  return total ? kExitFindings : kExitOk;
}

}  // namespace

void AddVerifyCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<VerifyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Prove every guarantee of policy packs for every possible request (Z3), or refute it with a "
      "concrete counterexample request that `firebreak eval` decides in violation. Each PATH is a "
      "pack directory or a directory holding packs; each pack is verified as its own set with its "
      "imports.\n"
      "Exit 0: all proved; 1: a guarantee refuted or unknown; 2: usage, input or internal error.");
  cmd->add_option("paths", opts->paths, "Pack directories, or directories holding packs")->required();
  cmd->add_flag("--set", opts->as_one_set, "Verify all PATHs together as one policy set");
  cmd->add_option("--counterexample-dir", opts->counterexample_dir,
                  "Write each counterexample to DIR/<guarantee>.json (DIR/<pack>/<guarantee>.json "
                  "when several sets are verified)");
  cmd->add_option("--timeout-ms", opts->timeout_ms, "Z3 time limit per guarantee (0: none)")
      ->capture_default_str();
  cmd->callback([opts, exit_code] { *exit_code = RunVerify(*opts); });
}

void AddDiffCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<DiffCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "diff",
      "Compare two policy sets over every possible request: equivalent, or for each kind of "
      "difference (A permits what B denies, B permits what A denies, different categories "
      "disclosed, different obligations) a few diverse witness requests with a summary in words.\n"
      "Exit 0: equivalent; 1: different (or not decided); 2: usage or input error.");
  cmd->add_option("a", opts->a, "Pack directory A")->required();
  cmd->add_option("b", opts->b, "Pack directory B")->required();
  cmd->add_option("--max-witnesses", opts->max_witnesses, "Witnesses per kind of difference")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--json", opts->json, "Print the comparison as one JSON object");
  cmd->add_option("--timeout-ms", opts->timeout_ms, "Z3 time limit per query (0: none)")
      ->capture_default_str();
  cmd->callback([opts, exit_code] { *exit_code = RunDiff(*opts); });
}

void AddLintCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<LintCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "lint",
      "Find rules that can never match, permits every request of which a forbid denies, "
      "agreements past their review date and guarantees whose condition can never hold.\n"
      "Exit 0: no findings; 1: findings; 2: usage, input or internal error.");
  cmd->add_option("paths", opts->paths, "Pack directories, or directories holding packs")->required();
  cmd->add_flag("--set", opts->as_one_set, "Lint all PATHs together as one policy set");
  cmd->add_option("--today", opts->today, "The date review dates are compared with (YYYY-MM-DD; "
                                          "default: today, UTC)");
  cmd->add_option("--timeout-ms", opts->timeout_ms, "Z3 time limit per query (0: none)")
      ->capture_default_str();
  cmd->callback([opts, exit_code] { *exit_code = RunLint(*opts); });
}

}  // namespace firebreak::cli
