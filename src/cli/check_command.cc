// `firebreak check PATH…`: load and check policy packs.
#include <cstdio>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/base.h"
#include "cli/commands.h"
#include "policy/policy.h"

namespace firebreak::cli {
namespace {

struct CheckOptions {
  std::vector<std::string> paths;
  bool as_one_set = false;
  bool pins = false;
  bool lock = false;
};

void PrintSummary(const policy::LoadedPolicy& loaded, const std::string& what) {
  const policy::PolicySet& set = *loaded.set;
  size_t firewall = 0, forbid = 0, permit = 0, agreement = 0;
  for (const auto& r : set.rules) {
    switch (r.kind) {
      case policy::RuleKind::kFirewall: ++firewall; break;
      case policy::RuleKind::kForbid: ++forbid; break;
      case policy::RuleKind::kPermit: ++permit; break;
      case policy::RuleKind::kAgreement: ++agreement; break;
    }
  }
  fmt::print("ok: {}: {} packs, {} firewall, {} forbid, {} permit, {} agreements, {} "
             "normalisations, {} guarantees; policy {}\n",
             what, set.packs.size(), firewall, forbid, permit, agreement,
             set.normalisations.size(), set.guarantees.size(), set.hash);
}

int Run(const CheckOptions& o) {
  std::vector<std::vector<std::string>> sets;
  if (o.as_one_set) {
    sets.push_back(o.paths);
  } else {
    for (const std::string& p : o.paths) {
      auto packs = policy::FindPacks(p);
      if (!packs) {
        fmt::print(stderr, "firebreak check: {}\n", packs.error().message());
        return kExitUsage;
      }
      for (const std::string& dir : *packs) sets.push_back({dir});
    }
  }
  int rc = kExitOk;
  for (const auto& dirs : sets) {
    auto loaded = policy::LoadPolicySet(dirs);
    if (!loaded) {
      fmt::print(stderr, "firebreak check: {}\n", loaded.error().message());
      return kExitUsage;
    }
    std::string what = dirs.size() == 1 ? dirs[0] : fmt::format("{} packs", dirs.size());
    if (!loaded->ok()) {
      fmt::print(stderr, "{}", loaded->Render());
      rc = kExitFindings;
      continue;
    }
    if (!o.lock) PrintSummary(*loaded, what);
    if (o.lock) {
      // The `policy.required` block of a gateway configuration: every
      // firewall rule, guarantee, named set and normalisation, and the
      // schema, by content hash.
      boost::json::object rules, guarantees, sets, normalisations;
      std::string schema;
      for (const auto& [key, hash] : loaded->set->item_hashes) {
        size_t space = key.find(' ');
        std::string kind = key.substr(0, space), name = key.substr(space + 1);
        if (kind == "firewall") rules[name] = hash;
        if (kind == "guarantee") guarantees[name] = hash;
        if (kind == "set") sets[name] = hash;
        if (kind == "normalise") normalisations[name] = hash;
        if (kind == "schema") schema = hash;
      }
      fmt::print("{}\n", boost::json::serialize(boost::json::object{{"firewall_rules", std::move(rules)},
                                                                     {"guarantees", std::move(guarantees)},
                                                                     {"sets", std::move(sets)},
                                                                     {"normalisations", std::move(normalisations)},
                                                                     {"schema", schema}}));
    }
    if (o.pins) {
      // What the set relies on: the pins its packs declare (each verified
      // when the set loaded), then the pin line of every firewall rule it
      // holds, for a holder pack to copy.
      const auto& set = *loaded->set;
      fmt::print("# {} pinned firewall rule(s) this set relies on\n", set.pins.size());
      for (const policy::Pin& p : set.pins) {
        std::string where;
        if (set.sources && p.span.file < set.sources->size()) {
          where = fmt::format(" ({}:{})", set.sources->path(p.span.file), p.span.line);
        }
        fmt::print("relies on: pin {} \"{}\" in pack {}{}\n", p.rule, p.hash, p.pack, where);
      }
      fmt::print("# firewall rules in this set, as pin lines\n");
      for (const auto& r : set.rules) {
        if (r.kind != policy::RuleKind::kFirewall) continue;
        fmt::print("pin {} \"sha256:{}\"\n", r.name, HexEncode(DigestBytes(Sha256(r.canonical))));
      }
    }
  }
  return rc;
}

}  // namespace

void AddCheckCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<CheckOptions>();
  CLI::App* cmd = app.add_subcommand(
      "check",
      "Load and type-check policy packs. Each PATH is a pack directory (with pack.fbp) or a "
      "directory holding packs; each pack is checked as its own policy set with its imports.\n"
      "Exit 0: clean; 1: diagnostics; 2: usage or I/O error.");
  cmd->add_option("paths", opts->paths, "Pack directories, or directories holding packs")
      ->required();
  cmd->add_flag("--set", opts->as_one_set,
                "Check all PATHs together as one policy set (e.g. national + holder + agreements)");
  cmd->add_flag("--pins", opts->pins, "Print a `pin` line for every firewall rule");
  cmd->add_flag("--lock", opts->lock,
                "Print, as JSON for the gateway configuration's `policy.required`, every firewall rule, "
                "guarantee, named set and normalisation and the schema by content hash: what no reload may weaken (docs/operations.md)");
  cmd->callback([opts, exit_code] { *exit_code = Run(*opts); });
}

}  // namespace firebreak::cli
