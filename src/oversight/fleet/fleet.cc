#include "oversight/fleet/fleet.h"

#include <algorithm>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "entry/entry.h"
#include "ledger/log_reader.h"
#include "ledger/storage.h"
#include "oversight/monitor/monitor.h"

namespace firebreak::oversight {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::string When(int64_t t) {
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min);
}

bool SafeName(const std::string& n) {
  if (n.empty() || n.size() > 100 || n[0] == '.') return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

bool Pinned(const PolicyEvent& e, const std::vector<std::string>& national) {
  if (!e.accepted) return false;
  if (national.empty()) return !e.pins.empty();
  for (const std::string& p : national) {
    if (std::find(e.pins.begin(), e.pins.end(), p) == e.pins.end()) return false;
  }
  return true;
}

void Follow(const FleetHolder& h, const FleetFile& fleet, const std::string& state, HolderView& v) {
  auto key = ledger::NoteVerifier::FromKeyText(h.vkey);
  if (!key) {
    v.problem = "its verifier key does not parse: " + key.error().message();
    return;
  }
  Result<ledger::FileReader> fetch = h.log.rfind("http://", 0) == 0 || h.log.rfind("https://", 0) == 0
                                         ? FetchFromUrl(h.log, h.ca_file)
                                         : Result<ledger::FileReader>(FetchFromDir(h.log));
  if (!fetch) {
    v.problem = "its log cannot be reached: " + fetch.error().message();
    return;
  }
  MonitorOptions m;
  m.state_dir = state;
  m.log_key = *key;
  m.fetch = *fetch;
  auto run = RunMonitor(m);
  if (!run) {
    v.reachable = run.error().code() != ErrorCode::kUnavailable && run.error().code() != ErrorCode::kIo;
    v.problem = "following its log failed: " + run.error().message();
  } else {
    v.reachable = true;
    if (run->evidence.empty()) {
      v.verified = true;
    } else {
      v.problem = fmt::format("its log does not verify ({}): {}", run->evidence[0].kind, run->evidence[0].sentence);
    }
  }
  // The history, from what the mirror verified (even when the latest
  // checkpoint did not verify, what was verified before is shown).
  std::error_code ec;
  if (!fs::exists(fs::path(state) / "checkpoint", ec)) return;
  auto storage = ledger::PosixStorage::OpenReadOnly(state);
  if (!storage) return;
  ledger::LogReader reader(*storage, *key);
  auto snap = reader.Latest();
  if (!snap) return;
  v.size = snap->checkpoint.size;
  alignas(16) unsigned char buffer[16384];
  Status st = reader.ForEachEntry(*snap, 0, snap->checkpoint.size, [&](uint64_t i, std::string_view text) -> Status {
    json::monotonic_resource memory(buffer, sizeof buffer);
    auto parsed = entry::Parse(text, &memory);
    if (!parsed) return Ok();
    const json::object& e = *parsed;
    int64_t time = 0;
    if (const json::value* t = e.if_contains("time"); t && t->is_int64()) time = t->get_int64();
    std::string_view kind = e.contains("kind") ? Str(e, "kind") : std::string_view("decision");
    if (kind == "policy") {
      PolicyEvent p;
      p.index = i;
      p.time = time;
      p.trigger = std::string(Str(e, "trigger"));
      const json::value* a = e.if_contains("accepted");
      p.accepted = a && a->is_bool() && a->get_bool();
      p.policy_hash = std::string(Str(e, "policy_hash"));
      if (const json::value* pins = e.if_contains("pins_checked"); pins && pins->is_array()) {
        for (const json::value& x : pins->get_array()) {
          if (x.is_string()) p.pins.emplace_back(x.get_string());
        }
      }
      p.pinned = Pinned(p, fleet.national_pins);
      v.policy_events.push_back(std::move(p));
    } else if (kind == "decision") {
      std::string_view hash = Str(e, "policy_hash");
      if (v.runs.empty() || v.runs.back().policy_hash != hash) {
        v.runs.push_back(PolicyRun{std::string(hash), i, i, time, time, 0});
      }
      PolicyRun& r = v.runs.back();
      r.last_index = i;
      r.last_time = time;
      ++r.decisions;
    }
    return Ok();
  });
  if (!st && v.problem.empty()) v.problem = "its entries cannot all be read: " + st.error().message();
}

void Judge(HolderView& v) {
  if (!v.problem.empty()) v.stands_out.push_back(fmt::format("The log {}: {}", v.log, v.problem));
  bool was_pinned = false, any = false;
  std::vector<std::string> in_force;
  for (const PolicyEvent& p : v.policy_events) {
    if (!p.accepted) continue;
    in_force.push_back(p.policy_hash);
    if (!any || p.pinned != v.pinned_now) v.pinned_since = p.time;
    if (was_pinned && !p.pinned) {
      v.stopped_pinning_at = p.time;
      v.stands_out.push_back(fmt::format(
          "Stopped pinning the national firewall layer at entry {} ({}): policy {} was put in force ({}) without the "
          "pins its previous policy had.",
          p.index, When(p.time), p.policy_hash, p.trigger));
    }
    was_pinned = p.pinned;
    v.pinned_now = p.pinned;
    v.policy_in_force = p.policy_hash;
    any = true;
  }
  if (any && !v.pinned_now && !v.stopped_pinning_at) {
    v.stands_out.push_back("Its policy in force does not pin the national firewall layer.");
  }
  if (!any && v.verified) v.stands_out.push_back("Its log has no accepted policy entry: no one can see what it enforces.");
  for (const PolicyRun& r : v.runs) {
    if (std::find(in_force.begin(), in_force.end(), r.policy_hash) == in_force.end()) {
      v.stands_out.push_back(fmt::format(
          "{} decisions (entries {} to {}) were made under policy {}, which no accepted policy entry put in force.",
          r.decisions, r.first_index, r.last_index, r.policy_hash.empty() ? "(none named)" : r.policy_hash));
    }
  }
}

}  // namespace

Result<FleetFile> ParseFleetFile(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return tl::make_unexpected(InvalidArgument("the fleet file is not JSON: " + ec.message()));
  if (!v.is_object()) return tl::make_unexpected(InvalidArgument("the fleet file must be a JSON object"));
  const json::object& o = v.get_object();
  for (const auto& kv : o) {
    if (kv.key() != "holders" && kv.key() != "national_pins") {
      return tl::make_unexpected(InvalidArgument(fmt::format("unknown member `{}` (expected holders, national_pins)",
                                                             std::string(kv.key()))));
    }
  }
  FleetFile f;
  if (const json::value* n = o.if_contains("national_pins")) {
    if (!n->is_array()) return tl::make_unexpected(InvalidArgument("national_pins: must be an array of rule names"));
    for (size_t i = 0; i < n->get_array().size(); ++i) {
      const json::value& x = n->get_array()[i];
      if (!x.is_string() || x.get_string().empty()) {
        return tl::make_unexpected(InvalidArgument(fmt::format("national_pins[{}]: must be a rule name", i)));
      }
      f.national_pins.emplace_back(x.get_string());
    }
  }
  const json::value* hs = o.if_contains("holders");
  if (!hs || !hs->is_array() || hs->get_array().empty()) {
    return tl::make_unexpected(InvalidArgument("holders: a non-empty array of holders is required"));
  }
  for (size_t i = 0; i < hs->get_array().size(); ++i) {
    const json::value& hv = hs->get_array()[i];
    if (!hv.is_object()) return tl::make_unexpected(InvalidArgument(fmt::format("holders[{}]: must be an object", i)));
    const json::object& h = hv.get_object();
    FleetHolder holder;
    for (const auto& kv : h) {
      std::string k(kv.key());
      if (!kv.value().is_string()) {
        return tl::make_unexpected(InvalidArgument(fmt::format("holders[{}].{}: must be a string", i, k)));
      }
      std::string s(kv.value().get_string());
      if (k == "name") holder.name = s;
      else if (k == "log") holder.log = s;
      else if (k == "vkey") holder.vkey = s;
      else if (k == "ca_file") holder.ca_file = s;
      else return tl::make_unexpected(InvalidArgument(fmt::format("holders[{}]: unknown member `{}`", i, k)));
    }
    for (auto [field, value] : {std::pair{"name", &holder.name}, {"log", &holder.log}, {"vkey", &holder.vkey}}) {
      if (value->empty()) return tl::make_unexpected(InvalidArgument(fmt::format("holders[{}].{}: is required", i, field)));
    }
    if (!SafeName(holder.name)) {
      return tl::make_unexpected(InvalidArgument(fmt::format(
          "holders[{}].name: `{}` must be letters, digits, '-', '_' or '.' (it names the holder's mirror)", i, holder.name)));
    }
    for (const FleetHolder& other : f.holders) {
      if (other.name == holder.name) {
        return tl::make_unexpected(InvalidArgument(fmt::format("holders[{}].name: `{}` is listed twice", i, holder.name)));
      }
    }
    f.holders.push_back(std::move(holder));
  }
  return f;
}

Result<std::vector<HolderView>> RunFleet(const FleetOptions& o) {
  std::error_code ec;
  fs::create_directories(o.state_dir, ec);
  if (ec) return tl::make_unexpected(IoError("--state: cannot create `" + o.state_dir + "`: " + ec.message()));
  std::vector<HolderView> out;
  for (const FleetHolder& h : o.fleet.holders) {
    HolderView v;
    v.name = h.name;
    v.log = h.log;
    Follow(h, o.fleet, (fs::path(o.state_dir) / h.name).string(), v);
    Judge(v);
    out.push_back(std::move(v));
  }
  return out;
}

json::object HolderView::ToJson() const {
  json::array events;
  for (const PolicyEvent& p : policy_events) {
    json::array pins_a;
    for (const std::string& s : p.pins) pins_a.emplace_back(s);
    events.push_back(json::object{{"index", p.index},
                                  {"time", p.time},
                                  {"trigger", p.trigger},
                                  {"accepted", p.accepted},
                                  {"policy_hash", p.policy_hash},
                                  {"pins_checked", std::move(pins_a)},
                                  {"pins_national_layer", p.pinned}});
  }
  json::array rs;
  for (const PolicyRun& r : runs) {
    rs.push_back(json::object{{"policy_hash", r.policy_hash},
                              {"first_index", r.first_index},
                              {"last_index", r.last_index},
                              {"first_time", r.first_time},
                              {"last_time", r.last_time},
                              {"decisions", r.decisions}});
  }
  json::array so;
  for (const std::string& s : stands_out) so.emplace_back(s);
  json::object o{{"name", name},
                 {"log", log},
                 {"reachable", reachable},
                 {"verified", verified},
                 {"problem", problem},
                 {"size", size},
                 {"policy_in_force", policy_in_force},
                 {"pins_national_layer", pinned_now},
                 {"policy_events", std::move(events)},
                 {"decision_runs", std::move(rs)},
                 {"stands_out", std::move(so)}};
  o["pinning_since"] = pinned_since ? json::value(*pinned_since) : json::value(nullptr);
  o["stopped_pinning_at"] = stopped_pinning_at ? json::value(*stopped_pinning_at) : json::value(nullptr);
  return o;
}

std::string FleetSummary(const std::vector<HolderView>& views) {
  std::vector<const HolderView*> order;
  for (const HolderView& v : views) order.push_back(&v);
  std::stable_sort(order.begin(), order.end(),
                   [](const HolderView* a, const HolderView* b) { return !a->stands_out.empty() && b->stands_out.empty(); });
  size_t flagged = 0;
  for (const HolderView* v : order) flagged += !v->stands_out.empty();
  std::string s = fmt::format("{} holders; {} stand out.\n", views.size(), flagged);
  for (const HolderView* v : order) {
    s += fmt::format("\n{} {}  ({})\n", v->stands_out.empty() ? "  " : "!!", v->name, v->log);
    s += fmt::format("   log: {}, {} entries\n",
                     v->verified ? "verifies" : v->reachable ? "DOES NOT VERIFY" : "UNREACHABLE", v->size);
    s += fmt::format("   policy in force: {}; pins the national firewall layer: {}{}\n",
                     v->policy_in_force.empty() ? "(none logged)" : v->policy_in_force, v->pinned_now ? "yes" : "NO",
                     v->pinned_since ? " since " + When(*v->pinned_since) : "");
    for (const PolicyEvent& p : v->policy_events) {
      s += fmt::format("   {}  entry {:>7}  {:<6} {:<8} {}  pins [{}]\n", When(p.time), p.index, p.trigger,
                       p.accepted ? "accepted" : "refused", p.policy_hash.empty() ? "-" : p.policy_hash,
                       fmt::join(p.pins, ", "));
    }
    for (const std::string& w : v->stands_out) s += "   !! " + w + "\n";
  }
  return s;
}

}  // namespace firebreak::oversight
