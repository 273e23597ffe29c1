// The console's JSON API (see console.h and docs/console.md).
#include "gateway/internal/console.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/encoding.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "engine/request.h"
#include "policy/policy.h"
#include "verify/verify.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;

constexpr uint16_t kNone = 0xFFFF;


const json::object* Obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

const json::array* Arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

std::vector<std::string> Strings(const json::array* a) {
  std::vector<std::string> out;
  if (!a) return out;
  for (const json::value& v : *a) {
    if (v.is_string()) out.emplace_back(v.get_string());
  }
  return out;
}

// A non-negative decimal integer, or false.
bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  *out = v;
  return true;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The first second of the UTC month holding `t`.
int64_t MonthStart(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string Date(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

// "policies/uk/common/x2-agreements.fbp:7": the file from its `policies/`
// folder (else its last two components) and the line.
std::string Location(const policy::PolicySet& set, const policy::Span& span) {
  if (!set.sources || span.file >= set.sources->size()) return "";
  std::string path = set.sources->path(span.file);
  if (size_t at = path.rfind("/policies/"); at != std::string::npos) {
    path = path.substr(at + 1);
  } else if (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    size_t up = path.rfind('/', slash - 1);
    path = path.substr(up == std::string::npos ? 0 : up + 1);
  }
  return fmt::format("{}:{}", path, span.line);
}

// A CSV field, quoted when it needs to be; a leading character a
// spreadsheet would run as a formula is escaped.
std::string Csv(std::string_view s) {
  std::string v(s);
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) v = "'" + v;
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

bool ParseQuery(std::string_view query, std::map<std::string, std::string>* out) {
  size_t at = 0;
  while (at < query.size()) {
    size_t amp = query.find('&', at);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(at, amp - at);
    at = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%') {
        if (i + 2 >= raw.size()) return false;
        int h = Hex(raw[i + 1]), l = Hex(raw[i + 2]);
        if (h < 0 || l < 0) return false;
        value += char(h * 16 + l);
        i += 2;
      } else {
        value += raw[i];
      }
    }
    (*out)[key] = std::move(value);
  }
  return true;
}

const std::vector<std::string>& ConsolePaths() {
  static const std::vector<std::string> paths = {
      "/v1/console/whoami",         "/v1/console/overview",  "/v1/console/decisions",
      "/v1/console/decisions/{index}", "/v1/console/policies", "/v1/console/agreements",
      "/v1/console/log",            "/v1/console/log/entries/{index}",
  };
  return paths;
}

uint16_t Console::Intern(std::vector<std::string>& names, std::map<std::string, uint16_t>& ids,
                         std::string_view s) {
  auto it = ids.find(std::string(s));
  if (it != ids.end()) return it->second;
  if (names.size() >= kNone) return kNone;
  uint16_t id = static_cast<uint16_t>(names.size());
  names.emplace_back(s);
  ids.emplace(std::string(s), id);
  return id;
}

void Console::Add(uint64_t index, std::string_view text) {
  Row row;
  row.index = index;
  row.kind = kOther;
  auto parsed = entry::Parse(text);
  if (!parsed) {
    rows_.push_back(row);
    return;
  }
  json::object& e = *parsed;
  if (const json::value* t = e.if_contains("time"); t && t->is_int64()) row.time = t->get_int64();
  std::string_view kind = ConsoleString(e, "kind");
  if (kind.empty() && e.if_contains("sealed")) kind = "decision";  // version 2
  if (kind == "policy") {
    row.kind = kPolicy;
    const json::value* accepted = e.if_contains("accepted");
    if (accepted && accepted->is_bool() && accepted->get_bool()) {
      PolicyLoad load;
      load.index = index;
      load.time = row.time;
      load.hash = std::string(ConsoleString(e, "policy_hash"));
      load.trigger = std::string(ConsoleString(e, "trigger"));
      load.guarantees_proved = Strings(Arr(e, "guarantees_proved"));
      load.pins_checked = Strings(Arr(e, "pins_checked"));
      loads_.push_back(std::move(load));
    } else {
      ++refused_reloads_;
    }
  } else if (kind == "delivery") {
    row.kind = kDelivery;
  } else if (kind == "decision") {
    row.kind = kDecision;
    row.endpoint = ConsoleString(e, "endpoint") == "decisions" ? 1 : 0;
    if (const json::object* req = Obj(e, "requester")) {
      row.org = Intern(strings_, string_ids_, ConsoleString(*req, "org"));
      row.org_type = Intern(strings_, string_ids_, ConsoleString(*req, "org_type"));
    }
    row.purpose = Intern(strings_, string_ids_, ConsoleString(e, "purpose"));
    std::string_view d = ConsoleString(e, "decision");
    if (!d.empty()) row.permit = d == "permit" ? 1 : 0;
    if (entry::OpenParsed(e, keys_)) {
      if (const json::object* o = Obj(e, "opened")) {
        std::string_view sd = ConsoleString(*o, "decision");
        if (!sd.empty()) row.permit = sd == "permit" ? 1 : 0;
        for (const std::string& ob : Strings(Arr(*o, "obligations"))) {
          uint16_t id = Intern(obligation_names_, obligation_ids_, ob);
          if (id < 32) row.obligations |= uint32_t(1) << id;
        }
        row.rules_begin = static_cast<uint32_t>(rule_pool_.size());
        for (const std::string& r : Strings(Arr(*o, "rules"))) {
          rule_pool_.push_back(Intern(strings_, string_ids_, r));
          ++row.rules_count;
        }
      }
    }
  }
  rows_.push_back(row);
}

Status Console::Refresh() {
  std::lock_guard lock(mu_);
  FB_ASSIGN_OR_RETURN(ledger::LogReader::Snapshot snap, log_.Latest());
  if (snap.checkpoint.size <= indexed_) return Ok();
  FB_RETURN_IF_ERROR(log_.ForEachEntry(snap, indexed_, snap.checkpoint.size,
                                       [this](uint64_t i, std::string_view text) -> Status {
                                         if (stopping_.load(std::memory_order_relaxed)) {
                                           return tl::make_unexpected(Unavailable("the gateway is closing"));
                                         }
                                         Add(i, text);
                                         ++indexed_;
                                         return Ok();
                                       }));
  return Ok();
}

http::Response Console::Handle(std::string_view rest, std::string_view query, ConsoleAccess access,
                               const ConsoleContext& ctx) {
  if (rest == "whoami") return Whoami(access, ctx);
  if (!Refresh()) return ConsoleProblem(500, "", "the console could not read the log");
  if (rest == "overview") return Overview(query, ctx);
  if (rest == "decisions") return Decisions(query, access);
  if (rest.rfind("decisions/", 0) == 0) return Decision(rest.substr(10), access, ctx);
  if (rest == "policies") return Policies(ctx);
  if (rest == "agreements") return Agreements(query, ctx);
  if (rest == "log") return Log(ctx);
  if (rest.rfind("log/entries/", 0) == 0) return Proof(rest.substr(12));
  return ConsoleProblem(404, "", "no such console endpoint");
}

http::Response Console::Whoami(ConsoleAccess access, const ConsoleContext& ctx) {
  json::array views{"overview", "decisions", "policies", "agreements", "log", "reports"};
  return ConsoleJson(200, json::object{{"org", ctx.org_id},
                                {"name", ctx.org_name},
                                {"scope", ctx.scope},
                                {"sees_subjects", access == ConsoleAccess::kHolder},
                                {"views", std::move(views)}});
}

http::Response Console::Overview(std::string_view query, const ConsoleContext& ctx) {
  std::map<std::string, std::string> q;
  if (!ParseQuery(query, &q)) return ConsoleProblem(400, "query", "malformed query string");
  uint64_t hours = 24;
  if (auto it = q.find("hours"); it != q.end()) {
    if (!ParseUint(it->second, &hours) || hours < 1 || hours > 720) {
      return ConsoleProblem(400, "hours", "must be an integer from 1 to 720");
    }
  }
  std::lock_guard lock(mu_);
  const int64_t now = ctx.now;
  const int64_t end = (now / 3600 + 1) * 3600;
  const int64_t start = end - int64_t(hours) * 3600;
  std::vector<std::array<uint64_t, 3>> per_hour(hours, {0, 0, 0});  // permit, deny, unknown
  std::map<uint16_t, std::array<uint64_t, 3>> by_type, by_purpose;
  std::map<uint16_t, uint64_t> firewall, obligations;
  uint64_t total = 0, withdrawn = 0, firewall_refusals = 0;
  // Firewall rules of the policy in force, by name.
  std::set<std::string> firewall_rules;
  if (ctx.live) {
    for (const policy::Rule& r : ctx.live->policy_set().rules) {
      if (r.kind == policy::RuleKind::kFirewall) firewall_rules.insert(r.name);
    }
  }
  std::vector<bool> is_firewall(strings_.size(), false);
  for (size_t i = 0; i < strings_.size(); ++i) is_firewall[i] = firewall_rules.count(strings_[i]) > 0;
  // Newest first; stop at the window's start (entries are in time order up
  // to clock steps, so a margin of an hour).
  for (size_t k = rows_.size(); k-- > 0;) {
    const Row& r = rows_[k];
    if (r.time < start - 3600) break;
    if (r.time < start || r.time >= end) continue;
    if (r.kind == kDelivery) ++withdrawn;
    if (r.kind != kDecision) continue;
    ++total;
    int col = r.permit == 1 ? 0 : r.permit == 0 ? 1 : 2;
    per_hour[size_t((r.time - start) / 3600)][col]++;
    by_type[r.org_type][col]++;
    by_purpose[r.purpose][col]++;
    for (uint16_t b = 0; b < 32; ++b) {
      if (r.obligations >> b & 1) obligations[b]++;
    }
    if (r.permit == 0) {
      bool fw = false;
      for (uint32_t j = 0; j < r.rules_count; ++j) {
        uint16_t id = rule_pool_[r.rules_begin + j];
        if (id < is_firewall.size() && is_firewall[id]) {
          firewall[id]++;
          fw = true;
        }
      }
      if (fw) ++firewall_refusals;
    }
  }
  auto name = [&](uint16_t id) { return id < strings_.size() ? strings_[id] : std::string("other"); };
  auto counts = [](const std::array<uint64_t, 3>& c) {
    return json::object{{"permit", c[0]}, {"deny", c[1]}, {"unknown", c[2]}};
  };
  json::array hours_out;
  for (size_t h = 0; h < per_hour.size(); ++h) {
    json::object o = counts(per_hour[h]);
    o["hour"] = start + int64_t(h) * 3600;
    hours_out.push_back(std::move(o));
  }
  auto grouped = [&](const std::map<uint16_t, std::array<uint64_t, 3>>& m, const char* key) {
    json::array out;
    for (const auto& [id, c] : m) {
      json::object o = counts(c);
      o[key] = name(id);
      out.push_back(std::move(o));
    }
    return out;
  };
  json::array fw_out, ob_out;
  for (const auto& [id, n] : firewall) fw_out.push_back(json::object{{"rule", name(id)}, {"count", n}});
  for (const auto& [id, n] : obligations) {
    ob_out.push_back(json::object{{"obligation", obligation_names_[id]}, {"count", n}});
  }
  // The log's health.
  int64_t checkpoint_age = -1;
  struct stat st;
  if (::stat((log_dir_ + "/checkpoint").c_str(), &st) == 0) checkpoint_age = std::max<int64_t>(0, now - st.st_mtime);
  size_t cosignatures = 0;
  if (auto note = ledger::ParseNote(ctx.served_checkpoint); note && !note->signatures.empty()) {
    cosignatures = note->signatures.size() - 1;
  }
  json::object policy{{"hash", ctx.live ? ctx.live->policy_hash() : ""}, {"packs", json::value_from(ctx.packs)}};
  if (!loads_.empty()) {
    const PolicyLoad& l = loads_.back();
    policy["loaded_at"] = l.time;
    policy["trigger"] = l.trigger;
    policy["guarantees_proved"] = json::value_from(l.guarantees_proved);
    policy["pins_checked"] = json::value_from(l.pins_checked);
  } else {
    policy["loaded_at"] = nullptr;
    policy["trigger"] = "";
    policy["guarantees_proved"] = json::array();
    policy["pins_checked"] = json::array();
  }
  policy["guarantees"] = ctx.live ? ctx.live->policy_set().guarantees.size() : 0;
  return ConsoleJson(200, json::object{
                       {"generated_at", now},
                       {"window", json::object{{"hours", hours}, {"start", start}, {"end", end}}},
                       {"totals", json::object{{"decisions", total},
                                               {"firewall_refusals", firewall_refusals},
                                               {"withdrawn_deliveries", withdrawn}}},
                       {"per_hour", std::move(hours_out)},
                       {"by_requester_type", grouped(by_type, "org_type")},
                       {"by_purpose", grouped(by_purpose, "purpose")},
                       {"firewall_refusals", std::move(fw_out)},
                       {"obligations", std::move(ob_out)},
                       {"log", json::object{{"size", indexed_},
                                            {"sequenced_size", ctx.sequenced_size},
                                            {"checkpoint_age_seconds", checkpoint_age},
                                            {"witnesses_configured", ctx.witnesses_configured},
                                            {"witness_quorum", ctx.witness_quorum},
                                            {"cosignatures", cosignatures},
                                            {"healthy", ctx.log_healthy}}},
                       {"policy", std::move(policy)},
                   });
}

http::Response Console::Decisions(std::string_view query, ConsoleAccess access) {
  std::map<std::string, std::string> q;
  if (!ParseQuery(query, &q)) return ConsoleProblem(400, "query", "malformed query string");
  uint64_t limit = 50, before = UINT64_MAX;
  for (const auto& [key, value] : q) {
    if (key == "limit") {
      if (!ParseUint(value, &limit) || limit < 1 || limit > 200) {
        return ConsoleProblem(400, "limit", "must be an integer from 1 to 200");
      }
    } else if (key == "before") {
      if (!ParseUint(value, &before)) return ConsoleProblem(400, "before", "must be a log index");
    } else if (key == "decision") {
      if (value != "permit" && value != "deny" && !value.empty()) {
        return ConsoleProblem(400, "decision", "must be permit or deny");
      }
    } else if (key == "endpoint") {
      if (value != "disclosures" && value != "decisions" && !value.empty()) {
        return ConsoleProblem(400, "endpoint", "must be disclosures or decisions");
      }
    } else if (key != "purpose" && key != "org_type" && key != "rule") {
      return ConsoleProblem(400, key, "unknown parameter");
    }
  }
  auto want = [&](const char* key) -> std::string {
    auto it = q.find(key);
    return it == q.end() ? "" : it->second;
  };
  std::string decision = want("decision"), endpoint = want("endpoint");
  std::lock_guard lock(mu_);
  // A filter naming a value never seen matches nothing.
  auto id_of = [&](const std::string& v) -> int {
    if (v.empty()) return -1;
    auto it = string_ids_.find(v);
    return it == string_ids_.end() ? -2 : it->second;
  };
  int purpose = id_of(want("purpose")), org_type = id_of(want("org_type")), rule = id_of(want("rule"));
  json::array items;
  uint64_t next = 0;
  bool more = false;
  size_t k = std::min<uint64_t>(before, rows_.size());
  while (k-- > 0) {
    const Row& r = rows_[k];
    if (r.kind != kDecision) continue;
    if (!decision.empty() && r.permit != (decision == "permit" ? 1 : 0)) continue;
    if (!endpoint.empty() && r.endpoint != (endpoint == "decisions" ? 1 : 0)) continue;
    if (purpose != -1 && r.purpose != purpose) continue;
    if (org_type != -1 && r.org_type != org_type) continue;
    if (rule != -1) {
      bool has = false;
      for (uint32_t j = 0; j < r.rules_count && !has; ++j) has = rule_pool_[r.rules_begin + j] == rule;
      if (!has) continue;
    }
    if (items.size() == limit) {
      more = true;
      break;
    }
    json::array rules;
    for (uint32_t j = 0; j < r.rules_count; ++j) rules.emplace_back(strings_[rule_pool_[r.rules_begin + j]]);
    json::array obs;
    for (uint16_t b = 0; b < 32; ++b) {
      if (r.obligations >> b & 1) obs.emplace_back(obligation_names_[b]);
    }
    items.push_back(json::object{
        {"index", r.index},
        {"time", r.time},
        {"endpoint", r.endpoint ? "decisions" : "disclosures"},
        {"org", strings_.size() > r.org ? strings_[r.org] : ""},
        {"org_type", strings_.size() > r.org_type ? strings_[r.org_type] : ""},
        {"purpose", strings_.size() > r.purpose ? strings_[r.purpose] : ""},
        {"decision", r.permit == 1 ? "permit" : r.permit == 0 ? "deny" : "unknown"},
        {"rules", std::move(rules)},
        {"obligations", std::move(obs)},
    });
    next = r.index;
  }
  (void)access;  // the stream holds no subject facts for either scope
  json::object out{{"items", std::move(items)}, {"log_size", indexed_}};
  out["next_before"] = more ? json::value(next) : json::value(nullptr);
  return ConsoleJson(200, out);
}

http::Response Console::Decision(std::string_view id, ConsoleAccess access, const ConsoleContext& ctx) {
  uint64_t index = 0;
  if (!ParseUint(id, &index)) return ConsoleProblem(400, "index", "must be a log index");
  auto snap = log_.Latest();
  if (!snap) return ConsoleProblem(500, "", "the console could not read the log");
  if (index >= snap->checkpoint.size) return ConsoleProblem(404, "index", "no such entry in the published log");
  auto text = log_.Entry(*snap, index);
  if (!text) return ConsoleProblem(500, "", "the console could not read the log");
  auto e = entry::Parse(*text);
  if (!e) return ConsoleProblem(422, "index", "the entry does not parse");
  std::string_view kind = ConsoleString(*e, "kind");
  if (kind.empty() && e->if_contains("sealed")) kind = "decision";
  if (kind != "decision") return ConsoleProblem(404, "index", "the entry is not a decision");
  bool opened = bool(entry::OpenParsed(*e, keys_));
  json::object out{{"index", index}, {"kind", "decision"}};
  for (const char* key : {"time", "endpoint", "requester", "purpose", "action", "legal_basis", "asked", "disclosed",
                          "decision", "policy_hash", "request_id"}) {
    if (const json::value* v = e->if_contains(key)) out[key] = *v;
  }
  out["receipt"] = fmt::format("{}-{}", index, ConsoleString(*e, "request_id"));
  out["opened"] = opened;
  const json::object* o = opened ? Obj(*e, "opened") : nullptr;
  if (o) {
    // How the policy decided: both scopes.
    for (const char* key : {"decision", "disclosed", "effective_purpose", "obligations", "rules", "rules_not_listed"}) {
      if (const json::value* v = o->if_contains(key)) out[key] = *v;
    }
    if (access == ConsoleAccess::kHolder) {
      // The subject, in codes and its pseudonym: the holder only.
      json::object subject;
      for (const char* key : {"subject", "unresolved", "subject_none", "roles", "flags", "immigration_concern",
                              "regularisation_pending", "subject_initiated", "consent_to_ie", "application", "cases",
                              "cases_not_listed"}) {
        if (const json::value* v = o->if_contains(key)) subject[key] = *v;
      }
      out["subject"] = std::move(subject);
      json::array records;
      if (const json::array* rs = Arr(*o, "records")) records = *rs;
      out["records"] = std::move(records);
      if (const json::value* v = o->if_contains("records_not_listed")) out["records_not_listed"] = *v;
    }
  }
  if (!out.contains("decision")) out["decision"] = "unknown";
  // The reasons: each deciding rule's `because`, from the policy in force
  // when it is the one that decided (an older policy's text is not kept).
  json::array reasons;
  if (ctx.live && ConsoleString(*e, "policy_hash") == ctx.live->policy_hash()) {
    if (const json::value* rules = out.if_contains("rules"); rules && rules->is_array()) {
      for (const json::value& name : rules->get_array()) {
        if (!name.is_string()) continue;
        for (const policy::Rule& r : ctx.live->policy_set().rules) {
          if (r.name == name.get_string()) reasons.push_back(json::object{{"rule", r.name}, {"because", r.because}});
        }
      }
    }
  }
  out["reasons"] = std::move(reasons);
  return ConsoleJson(200, out);
}

http::Response Console::Policies(const ConsoleContext& ctx) {
  if (!ctx.live) return ConsoleProblem(503, "", "no policy is loaded");
  const policy::PolicySet& set = ctx.live->policy_set();
  std::lock_guard lock(mu_);
  std::set<std::string> proved;
  int64_t proved_at = 0;
  // The load that put this policy in force.
  for (auto it = loads_.rbegin(); it != loads_.rend(); ++it) {
    if (it->hash == set.hash) {
      proved.insert(it->guarantees_proved.begin(), it->guarantees_proved.end());
      proved_at = it->time;
      break;
    }
  }
  json::array packs;
  for (const policy::PackInfo& p : set.packs) {
    packs.push_back(json::object{{"name", p.name}, {"layer", policy::LayerName(p.layer)}, {"title", p.title}});
  }
  json::array rules;
  for (const policy::Rule& r : set.rules) {
    rules.push_back(json::object{{"name", r.name},
                                 {"kind", policy::RuleKindName(r.kind)},
                                 {"layer", policy::LayerName(r.layer)},
                                 {"pack", r.pack},
                                 {"location", Location(set, r.span)},
                                 {"because", r.because},
                                 {"source", r.source}});
  }
  json::array guarantees;
  for (const policy::Guarantee& g : set.guarantees) {
    bool ok = proved.count(g.name) > 0;
    json::object o{{"name", g.name},
                   {"pack", g.pack},
                   {"location", Location(set, g.span)},
                   {"because", g.because},
                   {"status", ok ? "proved" : "not proved at load"}};
    o["proved_at"] = ok ? json::value(proved_at) : json::value(nullptr);
    guarantees.push_back(std::move(o));
  }
  json::array history;
  for (auto it = loads_.rbegin(); it != loads_.rend() && history.size() < 20; ++it) {
    history.push_back(json::object{{"index", it->index}, {"time", it->time}, {"hash", it->hash},
                                   {"trigger", it->trigger}});
  }
  return ConsoleJson(200, json::object{{"hash", set.hash},
                                {"pack_dirs", json::value_from(ctx.packs)},
                                {"packs", std::move(packs)},
                                {"rules", std::move(rules)},
                                {"guarantees", std::move(guarantees)},
                                {"loads", std::move(history)},
                                {"refused_reloads", refused_reloads_}});
}

http::Response Console::Agreements(std::string_view query, const ConsoleContext& ctx) {
  std::map<std::string, std::string> q;
  if (!ParseQuery(query, &q)) return ConsoleProblem(400, "query", "malformed query string");
  std::string format = q.count("format") ? q["format"] : "json";
  if (format != "json" && format != "csv") return ConsoleProblem(400, "format", "must be json or csv");
  if (!ctx.live) return ConsoleProblem(503, "", "no policy is loaded");
  const policy::PolicySet& set = ctx.live->policy_set();
  const policy::Schema& schema = *set.schema;
  int64_t month = MonthStart(ctx.now);
  // Decisions this month per agreement (the agreement among the deciding rules).
  std::map<std::string, std::array<uint64_t, 2>> decided;
  {
    std::lock_guard lock(mu_);
    for (size_t k = rows_.size(); k-- > 0;) {
      const Row& r = rows_[k];
      if (r.time < month - 3600) break;
      if (r.kind != kDecision || r.time < month) continue;
      for (uint32_t j = 0; j < r.rules_count; ++j) {
        decided[strings_[rule_pool_[r.rules_begin + j]]][r.permit == 1 ? 0 : 1]++;
      }
    }
  }
  auto names = [&](policy::EnumKind kind, policy::Mask m) { return schema.Names(kind, m); };
  struct Item {
    const policy::Rule* rule;
    std::string review, warning;
    std::array<uint64_t, 2> counts{0, 0};
  };
  std::vector<Item> items;
  for (const policy::Rule& r : set.rules) {
    if (r.kind != policy::RuleKind::kAgreement || !r.agreement) continue;
    Item it{&r, Date(r.agreement->review), "", {0, 0}};
    if (r.agreement->review < ctx.now) {
      it.warning = "overdue";
    } else if (r.agreement->review < ctx.now + 90 * 86400) {
      it.warning = "due within 90 days";
    }
    if (auto d = decided.find(r.name); d != decided.end()) it.counts = d->second;
    items.push_back(std::move(it));
  }
  if (format == "csv") {
    http::Response out;
    out.content_type = "text/csv; charset=utf-8";
    out.headers.emplace_back("Content-Disposition", "attachment; filename=\"agreements.csv\"");
    out.headers.emplace_back("Cache-Control", "no-store");
    out.body = "name,pack,parties,purposes,data,withheld,lawful_basis,retention,security,review,owner,"
               "review_warning,permits_this_month,refusals_this_month,because,source\n";
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const std::string& x : v) s += (s.empty() ? "" : "; ") + x;
      return s;
    };
    for (const Item& it : items) {
      const policy::Rule& r = *it.rule;
      const policy::AgreementInfo& a = *r.agreement;
      for (const std::string& f :
           {r.name, r.pack, join(names(policy::EnumKind::kOrgType, a.parties)),
            join(names(policy::EnumKind::kPurpose, a.purposes)), join(names(policy::EnumKind::kCategory, r.grant)),
            join(names(policy::EnumKind::kCategory, r.withhold)),
            join(names(policy::EnumKind::kLegalBasis, a.legal_bases)), a.retention, a.security, it.review, a.owner,
            it.warning, std::to_string(it.counts[0]), std::to_string(it.counts[1]), r.because, r.source}) {
        out.body += Csv(f);
        out.body += ',';
      }
      out.body.back() = '\n';
    }
    return out;
  }
  json::array out;
  for (const Item& it : items) {
    const policy::Rule& r = *it.rule;
    const policy::AgreementInfo& a = *r.agreement;
    out.push_back(json::object{{"name", r.name},
                               {"pack", r.pack},
                               {"location", Location(set, r.span)},
                               {"parties", json::value_from(names(policy::EnumKind::kOrgType, a.parties))},
                               {"purposes", json::value_from(names(policy::EnumKind::kPurpose, a.purposes))},
                               {"data", json::value_from(names(policy::EnumKind::kCategory, r.grant))},
                               {"withheld", json::value_from(names(policy::EnumKind::kCategory, r.withhold))},
                               {"lawful_basis", json::value_from(names(policy::EnumKind::kLegalBasis, a.legal_bases))},
                               {"retention", a.retention},
                               {"security", a.security},
                               {"review", it.review},
                               {"owner", a.owner},
                               {"review_warning", it.warning},
                               {"permits_this_month", it.counts[0]},
                               {"refusals_this_month", it.counts[1]},
                               {"because", r.because},
                               {"source", r.source}});
  }
  return ConsoleJson(200, json::object{{"month_start", month}, {"policy_hash", set.hash}, {"agreements", std::move(out)}});
}

http::Response Console::Log(const ConsoleContext& ctx) {
  auto snap = log_.Latest();
  if (!snap) return ConsoleProblem(500, "", "the console could not read the log");
  std::string note_text = ctx.served_checkpoint.empty() ? snap->note : ctx.served_checkpoint;
  json::array signatures;
  if (auto note = ledger::ParseNote(note_text)) {
    for (size_t i = 0; i < note->signatures.size(); ++i) {
      signatures.push_back(json::object{{"name", note->signatures[i].name},
                                        {"role", i == 0 ? "log" : "witness"}});
    }
  }
  json::array policy_changes;
  {
    std::lock_guard lock(mu_);
    for (auto it = loads_.rbegin(); it != loads_.rend() && policy_changes.size() < 20; ++it) {
      policy_changes.push_back(json::object{{"index", it->index}, {"time", it->time}, {"hash", it->hash}});
    }
  }
  return ConsoleJson(200, json::object{{"origin", snap->checkpoint.origin},
                                {"size", snap->checkpoint.size},
                                {"root_hash", Base64Encode(std::string_view(reinterpret_cast<const char*>(snap->checkpoint.root.data()), snap->checkpoint.root.size()))},
                                {"checkpoint", note_text},
                                {"signatures", std::move(signatures)},
                                {"witnesses_configured", ctx.witnesses_configured},
                                {"witness_quorum", ctx.witness_quorum},
                                {"policy_changes", std::move(policy_changes)}});
}

http::Response Console::Proof(std::string_view id) {
  uint64_t index = 0;
  if (!ParseUint(id, &index)) return ConsoleProblem(400, "index", "must be a log index");
  auto snap = log_.Latest();
  if (!snap) return ConsoleProblem(500, "", "the console could not read the log");
  if (index >= snap->checkpoint.size) return ConsoleProblem(404, "index", "no such entry in the published log");
  auto receipt = log_.ReceiptFor(*snap, index);
  if (!receipt) return ConsoleProblem(500, "", "the console could not build the proof");
  // The entry as the public log holds it: its sealed part stays sealed.
  json::value entry_json;
  if (auto e = entry::Parse(receipt->extra)) entry_json = std::move(*e);
  return ConsoleJson(200, json::object{{"index", index},
                                {"size", snap->checkpoint.size},
                                {"entry", std::move(entry_json)},
                                {"tlog_proof", ledger::FormatReceipt(*receipt)}});
}

http::Response ComparePolicies(const engine::Engine& live, std::string_view body,
                               const std::vector<std::string>& default_packs) {
  std::vector<std::string> packs = default_packs;
  if (!body.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return ConsoleProblem(400, "", "the body must be a JSON object");
    for (const auto& kv : v.get_object()) {
      if (kv.key() != "packs") return ConsoleProblem(400, kv.key(), "unknown field");
      if (!kv.value().is_array() || kv.value().get_array().empty()) {
        return ConsoleProblem(400, "packs", "must be a non-empty list of pack directories");
      }
      packs.clear();
      for (const json::value& p : kv.value().get_array()) {
        if (!p.is_string() || p.get_string().empty()) return ConsoleProblem(400, "packs", "must be a list of pack directories");
        packs.emplace_back(p.get_string());
      }
    }
  }
  if (packs.empty()) {
    return ConsoleProblem(400, "packs", "name the candidate's pack directories (no shadow candidate is configured)");
  }
  auto loaded = policy::LoadPolicySet(packs);
  if (!loaded) return ConsoleProblem(422, "packs", loaded.error().ToString());
  if (!loaded->ok()) return ConsoleProblem(422, "packs", "the candidate does not check:\n" + loaded->Render());
  std::shared_ptr<const policy::PolicySet> a = live.shared_policy_set(), b = loaded->set;
  verify::DiffOptions options;
  options.label_a = "the policy in force";
  options.label_b = "the candidate";
  options.max_witnesses = 3;
  options.timeout_ms = 20000;
  auto report = verify::DiffSets(a, b, options);
  if (!report) return ConsoleProblem(422, "packs", report.error().ToString());
  json::array kinds;
  for (const verify::DiffKindResult& k : report->kinds) {
    json::array ws;
    for (const verify::DiffWitness& w : k.witnesses) {
      ws.push_back(json::object{{"summary", w.summary},
                                {"request", engine::RequestToJson(w.request, *a->schema)},
                                {"live", verify::DescribeDecision(w.a, *a)},
                                {"candidate", verify::DescribeDecision(w.b, *b)},
                                {"live_permits", w.a.permit},
                                {"candidate_permits", w.b.permit}});
    }
    const char* kind = k.kind == verify::DiffKind::kOnlyAPermits   ? "live-permits-candidate-denies"
                       : k.kind == verify::DiffKind::kOnlyBPermits ? "candidate-permits-live-denies"
                       : k.kind == verify::DiffKind::kDisclosedDiffers ? "different-disclosure"
                                                                       : "different-obligations";
    json::object ko{{"kind", kind},
                    {"outcome", k.outcome == verify::Outcome::kProved    ? "none"
                                : k.outcome == verify::Outcome::kRefuted ? "found"
                                                                         : "unknown"},
                    {"witnesses", std::move(ws)}};
    if (!k.reason.empty()) ko["reason"] = k.reason;
    kinds.push_back(std::move(ko));
  }
  return ConsoleJson(200, json::object{{"live_hash", a->hash},
                                {"candidate_hash", b->hash},
                                {"candidate_packs", json::value_from(packs)},
                                {"equivalent", report->equivalent()},
                                {"millis", int64_t(report->millis)},
                                {"differences", std::move(kinds)}});
}

http::Response ConsoleJson(int status, const json::value& body) {
  http::Response r;
  r.status = status;
  r.body = json::serialize(body);
  r.body += '\n';
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

http::Response ConsoleProblem(int status, std::string_view field, std::string_view message) {
  json::object e{{"status", status}, {"message", message}};
  if (!field.empty()) e["field"] = field;
  return ConsoleJson(status, json::object{{"error", std::move(e)}});
}

std::string_view ConsoleString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

}  // namespace firebreak::gateway::internal
