#include "oversight/audit/internal/replay.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/facts.h"
#include "engine/replay.h"
#include "verify/verify.h"

namespace firebreak::oversight::internal {

namespace json = boost::json;
using policy::EnumKind;
using policy::Mask;

namespace {

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::array* Arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_int64() ? v->get_int64() : 0;
}

std::vector<std::string> Strings(const json::array* a) {
  std::vector<std::string> out;
  if (!a) return out;
  for (const json::value& v : *a) {
    if (v.is_string()) out.emplace_back(v.get_string());
  }
  return out;
}

// A recorded decision as the engine would have made it.
engine::Decision Recorded(bool permit, Mask disclosed, Mask obligations, uint8_t purpose) {
  engine::Decision d;
  d.permit = permit;
  d.disclosed = permit ? disclosed : 0;
  d.obligations = permit ? obligations : 0;
  d.purpose = purpose;
  return d;
}

std::string Names(const policy::Schema& s, EnumKind k, Mask m) {
  return fmt::format("[{}]", fmt::join(s.Names(k, m), ", "));
}

// Whether two schemas give every value the same code (then a request in one
// is a request in the other). Remembered per pair: an audit meets few.
bool SameSchema(const policy::Schema& a, const policy::Schema& b) {
  if (&a == &b) return true;
  thread_local std::vector<std::tuple<const policy::Schema*, const policy::Schema*, bool>> memo;
  for (const auto& [x, y, same] : memo) {
    if (x == &a && y == &b) return same;
  }
  bool same = a.values == b.values && a.context.size() == b.context.size();
  for (size_t i = 0; same && i < a.context.size(); ++i) {
    same = a.context[i].name == b.context[i].name && a.context[i].type == b.context[i].type &&
           a.context[i].kind == b.context[i].kind;
  }
  memo.emplace_back(&a, &b, same);
  return same;
}

}  // namespace

ReplayOutcome ReplayDecision(const engine::Engine& engine, std::span<const engine::Engine* const> baselines,
                             const json::object& e) {
  ReplayOutcome out;
  const policy::Schema& schema = engine.schema();
  static const json::object kEmpty;
  const json::value* opened_v = e.if_contains("opened");
  const json::object& sealed = opened_v && opened_v->is_object() ? opened_v->get_object() : kEmpty;
  bool outward = Str(e, "endpoint") == "disclosures";
  const json::object& said = outward ? e : sealed;  // where the outcome is recorded
  out.permit = Str(said, "decision") == "permit";
  out.rules = Strings(Arr(sealed, "rules"));

  engine::EntryReader rd(schema);
  engine::Request base = engine::RebuildRequest(schema, e, sealed, rd);
  Mask disclosed = rd.Set(EnumKind::kCategory, "categories disclosed", Arr(said, "disclosed"));
  Mask obligations = rd.Set(EnumKind::kObligation, "obligations", Arr(sealed, "obligations"));
  // Entries before the application choice sealed `withheld` (asked less
  // disclosed); later ones leave it to be derived.
  bool has_withheld = Arr(sealed, "withheld") != nullptr;
  Mask withheld = rd.Set(EnumKind::kCategory, "categories withheld", Arr(sealed, "withheld"));
  std::string_view effective_name = Str(sealed, "effective_purpose");
  uint8_t effective = rd.One(EnumKind::kPurpose, "effective purpose", effective_name);
  if (!rd.problem().empty()) {
    out.mismatches.push_back("the entry cannot be replayed: " + rd.problem());
    return out;
  }
  if (Str(said, "decision") != "permit" && Str(said, "decision") != "deny") {
    out.mismatches.push_back("the entry records no decision");
    return out;
  }

  const json::value* subject = sealed.if_contains("subject");
  if (subject && subject->is_null()) {
    // The person was not found: the gateway denies without evaluating (X4).
    out.kind = ReplayOutcome::Kind::kUnresolved;
    if (out.permit || disclosed) {
      out.mismatches.push_back(fmt::format(
          "the person could not be resolved ({}), which must be refused, yet the entry records a permit",
          Str(sealed, "unresolved")));
    }
    if (effective != base.purpose) out.mismatches.push_back("an unresolved request's purpose was normalised");
    return out;
  }

  bool cases_complete = Int(sealed, "cases_not_listed") == 0;
  bool records_complete = Int(sealed, "records_not_listed") == 0;
  bool rules_complete = Int(sealed, "rules_not_listed") == 0;
  if (!cases_complete || !records_complete) out.kind = ReplayOutcome::Kind::kPartly;

  struct Eval {
    engine::Request request;
    engine::Decision decision;
    const json::object* recorded = nullptr;  // the record's line in the entry
  };
  std::vector<Eval> evals;
  if (const json::array* records = Arr(sealed, "records"); records && !records->empty()) {
    for (const json::value& v : *records) {
      if (!v.is_object()) {
        // (Found by replay_fuzz: a list of non-objects left no evaluation.)
        out.mismatches.push_back("the entry cannot be replayed: a record's line is not an object");
        return out;
      }
      const json::object& rec = v.get_object();
      Eval ev;
      ev.request = base;
      ev.recorded = &rec;
      if (auto st = engine::BindRecord(schema, Str(rec, "collected_as"), Str(rec, "case_type"),
                                       Str(rec, "case_status"), &ev.request);
          !st) {
        out.mismatches.push_back("the entry cannot be replayed: a record's provenance: " + st.error().message());
        return out;
      }
      evals.push_back(std::move(ev));
    }
  } else {
    evals.push_back(Eval{base, {}, nullptr});
  }

  // Decide again and compare, record by record where the facts are complete.
  bool permit = false;
  Mask got_disclosed = 0, got_obligations = 0;
  for (Eval& ev : evals) {
    ev.decision = engine.Decide(ev.request);
    if (ev.decision.permit) {
      permit = true;
      got_disclosed |= ev.decision.disclosed;
      got_obligations |= ev.decision.obligations;
    }
    if (!ev.recorded || !cases_complete) continue;
    std::vector<std::string> rules;
    engine.Explain(ev.decision, &rules, nullptr);
    bool rec_permit = Str(*ev.recorded, "decision") == "permit";
    Mask rec_disclosed = rd.Set(EnumKind::kCategory, "record's disclosed", Arr(*ev.recorded, "disclosed"));
    std::vector<std::string> rec_rules = Strings(Arr(*ev.recorded, "rules"));
    if (rec_permit != ev.decision.permit || rec_disclosed != ev.decision.disclosed || rec_rules != rules) {
      out.mismatches.push_back(fmt::format(
          "for a record collected as {}, the entry records {} {} by [{}] where the pack decides {} {} by [{}]",
          Str(*ev.recorded, "collected_as"), rec_permit ? "permit" : "deny", Names(schema, EnumKind::kCategory, rec_disclosed),
          fmt::join(rec_rules, ", "), ev.decision.permit ? "permit" : "deny",
          Names(schema, EnumKind::kCategory, ev.decision.disclosed), fmt::join(rules, ", ")));
    }
  }
  if (out.kind == ReplayOutcome::Kind::kReplayed) {
    std::vector<std::string> rules;
    std::set<std::string> seen;
    for (const Eval& ev : evals) {
      if (permit && !ev.decision.permit) continue;
      std::vector<std::string> r;
      engine.Explain(ev.decision, &r, nullptr);
      for (std::string& x : r) {
        if (seen.insert(x).second) rules.push_back(std::move(x));
      }
    }
    uint8_t got_effective = evals.front().decision.purpose;
    Mask got_withheld = base.categories & ~got_disclosed;
    if (permit != out.permit) {
      out.mismatches.push_back(fmt::format("the entry records {} where the pack decides {}",
                                           out.permit ? "a permit" : "a refusal", permit ? "a permit" : "a refusal"));
    }
    if (got_disclosed != disclosed) {
      out.mismatches.push_back(fmt::format("the entry records {} disclosed where the pack discloses {}",
                                           Names(schema, EnumKind::kCategory, disclosed),
                                           Names(schema, EnumKind::kCategory, got_disclosed)));
    }
    if (has_withheld && got_withheld != withheld) {
      out.mismatches.push_back(fmt::format("the entry records {} withheld where the pack withholds {}",
                                           Names(schema, EnumKind::kCategory, withheld),
                                           Names(schema, EnumKind::kCategory, got_withheld)));
    }
    if (got_obligations != obligations) {
      out.mismatches.push_back(fmt::format("the entry records obligations {} where the pack raises {}",
                                           Names(schema, EnumKind::kObligation, obligations),
                                           Names(schema, EnumKind::kObligation, got_obligations)));
    }
    if (got_effective != effective) {
      out.mismatches.push_back(fmt::format("the entry records the purpose as {} where the pack normalises it to {}",
                                           effective_name, schema.Values(EnumKind::kPurpose)[got_effective]));
    }
    if (rules_complete && rules != out.rules) {
      out.mismatches.push_back(fmt::format("the entry names the deciding rules [{}] where the pack's are [{}]",
                                           fmt::join(out.rules, ", "), fmt::join(rules, ", ")));
    }
  }

  // Guarantees, against the decision as recorded (what was actually done),
  // one evaluation per listed record. Each baseline decides in its own
  // schema, so the request is rebuilt in it.
  std::vector<std::string_view> checked;  // guarantee names, each checked once
  checked.reserve(32);
  auto check = [&](const engine::Engine& g_engine, const std::vector<Eval>& g_evals, Mask g_obligations,
                   Mask g_disclosed, uint8_t g_purpose, engine::EntryReader& g_rd) {
    const policy::Schema& s = g_engine.schema();
    for (const policy::Guarantee& g : g_engine.policy_set().guarantees) {
      if (std::find(checked.begin(), checked.end(), g.name) != checked.end()) continue;
      checked.push_back(g.name);
      for (const Eval& ev : g_evals) {
        bool rec_permit = ev.recorded ? Str(*ev.recorded, "decision") == "permit" : out.permit;
        Mask rec_disclosed =
            ev.recorded ? g_rd.Set(EnumKind::kCategory, "record's disclosed", Arr(*ev.recorded, "disclosed")) : g_disclosed;
        engine::Decision d = Recorded(rec_permit, rec_disclosed, g_obligations, g_purpose);
        if (verify::EngineViolates(g_engine, g, ev.request, d)) {
          out.violations.push_back(fmt::format(
              "{} {} ({}) although guarantee {} of pack {} says: \"{}\"", rec_permit ? "permitted" : "refused",
              verify::DescribeRequest(ev.request, s, g_purpose), Names(s, EnumKind::kCategory, d.disclosed), g.name,
              g.pack, g.because));
          break;
        }
      }
    }
  };
  check(engine, evals, obligations, disclosed, effective, rd);
  for (const engine::Engine* b : baselines) {
    if (SameSchema(b->schema(), schema)) {
      check(*b, evals, obligations, disclosed, effective, rd);
      continue;
    }
    engine::EntryReader brd(b->schema());
    engine::Request bbase = engine::RebuildRequest(b->schema(), e, sealed, brd);
    std::vector<Eval> bevals;
    for (const Eval& ev : evals) {
      Eval x;
      x.request = bbase;
      x.recorded = ev.recorded;
      if (ev.recorded) {
        (void)engine::BindRecord(b->schema(), Str(*ev.recorded, "collected_as"), Str(*ev.recorded, "case_type"),
                                 Str(*ev.recorded, "case_status"), &x.request);
      }
      bevals.push_back(std::move(x));
    }
    Mask bobl = brd.Set(EnumKind::kObligation, "obligations", Arr(sealed, "obligations"));
    Mask bdis = brd.Set(EnumKind::kCategory, "categories disclosed", Arr(said, "disclosed"));
    uint8_t bpur = brd.One(EnumKind::kPurpose, "effective purpose", effective_name);
    if (!brd.problem().empty()) {
      out.violations.push_back("cannot be checked against the baseline's guarantees: " + brd.problem());
      continue;
    }
    check(*b, bevals, bobl, bdis, bpur, brd);
  }
  return out;
}

}  // namespace firebreak::oversight::internal
