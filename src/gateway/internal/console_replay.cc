// POST /v1/console/policies/replay (see console.h and docs/console.md): the
// last N logged decisions decided again under a candidate pack set.
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "engine/replay.h"
#include "gateway/internal/console.h"
#include "policy/policy.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;
using policy::EnumKind;

constexpr int64_t kDefaultLast = 1000, kMaxLast = 10000;
constexpr size_t kMaxReasons = 20;  // distinct reasons listed; the rest are counted under "other"

std::vector<std::string> Sorted(const json::array* a) {
  std::vector<std::string> out;
  if (a) {
    for (const json::value& v : *a) {
      if (v.is_string()) out.emplace_back(v.get_string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

const json::array* Arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

// One side of a change, as the console shows it.
struct Side {
  bool permit = false;
  std::vector<std::string> rules, disclosed, obligations;  // disclosed and obligations sorted
  json::object ToJson() const {
    return json::object{{"decision", permit ? "permit" : "deny"},
                        {"rules", json::value_from(rules)},
                        {"disclosed", json::value_from(disclosed)},
                        {"obligations", json::value_from(obligations)}};
  }
};

}  // namespace

http::Response Console::Replay(std::string_view body, const ConsoleContext& ctx) {
  std::vector<std::string> packs;
  int64_t last = kDefaultLast;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return ConsoleProblem(400, "", "the body must be a JSON object");
  for (const auto& kv : v.get_object()) {
    if (kv.key() == "packs") {
      if (!kv.value().is_array() || kv.value().get_array().empty()) {
        return ConsoleProblem(400, "packs", "must be a non-empty list of pack directories");
      }
      for (const json::value& p : kv.value().get_array()) {
        if (!p.is_string() || p.get_string().empty()) return ConsoleProblem(400, "packs", "must be a list of pack directories");
        packs.emplace_back(p.get_string());
      }
    } else if (kv.key() == "last") {
      if (!kv.value().is_int64() || kv.value().get_int64() < 1 || kv.value().get_int64() > kMaxLast) {
        return ConsoleProblem(400, "last", fmt::format("must be a whole number from 1 to {}", kMaxLast));
      }
      last = kv.value().get_int64();
    } else {
      return ConsoleProblem(400, kv.key(), "unknown field");
    }
  }
  if (packs.empty()) return ConsoleProblem(400, "packs", "name the candidate's pack directories");
  for (const std::string& p : packs) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return ConsoleProblem(400, "packs", fmt::format("`{}` is not a directory on the gateway", p));
    }
  }
  auto loaded = policy::LoadPolicySet(packs);
  if (!loaded) return ConsoleProblem(400, "packs", loaded.error().ToString());
  if (!loaded->ok()) return ConsoleProblem(400, "packs", "the candidate does not check:\n" + loaded->Render());
  std::shared_ptr<const engine::Engine> candidate = engine::Engine::Compile(loaded->set);
  const policy::Schema& schema = candidate->schema();

  if (!Refresh()) return ConsoleProblem(500, "", "the console could not read the log");
  std::vector<uint64_t> chosen;  // ascending log indices of the last `last` decisions
  {
    std::lock_guard lock(mu_);
    for (auto it = rows_.rbegin(); it != rows_.rend() && int64_t(chosen.size()) < last; ++it) {
      if (it->kind == kDecision) chosen.push_back(it->index);
    }
  }
  std::reverse(chosen.begin(), chosen.end());

  uint64_t replayed = 0, unresolved = 0, not_replayed = 0;
  std::map<std::string, uint64_t> reasons;
  uint64_t other_reasons = 0;
  json::array changes;
  auto not_replayable = [&](std::string why) {
    ++not_replayed;
    if (reasons.count(why) || reasons.size() < kMaxReasons) {
      ++reasons[std::move(why)];
    } else {
      ++other_reasons;
    }
  };
  if (!chosen.empty()) {
    auto snap = log_.Latest();
    if (!snap) return ConsoleProblem(500, "", "the console could not read the log");
    size_t next = 0;
    auto st = log_.ForEachEntry(
        *snap, chosen.front(), chosen.back() + 1, [&](uint64_t i, std::string_view text) -> Status {
          if (stopping_.load(std::memory_order_relaxed)) {
            return tl::make_unexpected(Unavailable("the gateway is closing"));
          }
          if (next >= chosen.size() || chosen[next] != i) return Ok();
          ++next;
          auto e = entry::Parse(text);
          if (!e) {
            not_replayable("the entry does not parse");
            return Ok();
          }
          if (!entry::OpenParsed(*e, keys_)) {
            not_replayable("its sealed part could not be opened with the gateway's audit key");
            return Ok();
          }
          engine::Redecision got = engine::Redecide(*candidate, *e);
          if (got.kind == engine::Redecision::Kind::kNotReplayed) {
            not_replayable(got.problem);
            return Ok();
          }
          ++replayed;
          if (got.kind == engine::Redecision::Kind::kUnresolved) ++unresolved;
          const json::value* opened_v = e->if_contains("opened");
          const json::object& sealed = opened_v->get_object();  // Redecide refuses an entry without it
          const json::object& said = ConsoleString(*e, "endpoint") == "disclosures" ? *e : sealed;
          Side live, cand;
          live.permit = ConsoleString(said, "decision") == "permit";
          if (const json::array* r = Arr(sealed, "rules")) {
            for (const json::value& x : *r) {
              if (x.is_string()) live.rules.emplace_back(x.get_string());
            }
          }
          live.disclosed = Sorted(Arr(said, "disclosed"));
          live.obligations = Sorted(Arr(sealed, "obligations"));
          cand.permit = got.permit;
          cand.rules = got.rules;
          cand.disclosed = schema.Names(EnumKind::kCategory, got.disclosed);
          cand.obligations = schema.Names(EnumKind::kObligation, got.obligations);
          std::sort(cand.disclosed.begin(), cand.disclosed.end());
          std::sort(cand.obligations.begin(), cand.obligations.end());
          if (live.permit == cand.permit && live.disclosed == cand.disclosed && live.obligations == cand.obligations) {
            return Ok();
          }
          json::object c{{"index", i}, {"live", live.ToJson()}, {"candidate", cand.ToJson()}};
          if (const json::value* t = e->if_contains("time")) c["time"] = *t;
          if (const json::value* r = e->if_contains("requester"); r && r->is_object()) {
            c["requester_type"] = ConsoleString(r->get_object(), "org_type");
          }
          c["purpose"] = ConsoleString(*e, "purpose");
          c["endpoint"] = ConsoleString(*e, "endpoint");
          changes.push_back(std::move(c));
          return Ok();
        });
    if (!st) return ConsoleProblem(500, "", "the console could not read the log");
  }
  json::array why;
  for (const auto& [reason, count] : reasons) why.push_back(json::object{{"reason", reason}, {"count", count}});
  if (other_reasons) why.push_back(json::object{{"reason", "other reasons"}, {"count", other_reasons}});
  json::object out{{"candidate_hash", candidate->policy_hash()},
                   {"candidate_packs", json::value_from(packs)},
                   {"last", last},
                   {"considered", chosen.size()},
                   {"replayed", replayed},
                   {"unresolved", unresolved},
                   {"changed", changes.size()},
                   {"not_replayed", not_replayed},
                   {"not_replayed_reasons", std::move(why)},
                   {"changes", std::move(changes)}};
  if (ctx.live) out["live_hash"] = ctx.live->policy_hash();
  return ConsoleJson(200, out);
}

}  // namespace firebreak::gateway::internal
