// POST /v1/disclosures and POST /v1/decisions: runs the pipeline
// (internal/pipeline.h), appends the entry, answers once it is durable
// (docs/api.md), and marks an answer that could not be delivered.
#include <chrono>
#include <exception>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/crypto.h"
#include "base/encoding.h"
#include "entry/entry.h"
#include "gateway/api/api.h"
#include "gateway/internal/pipeline.h"
#include "gateway/internal/service.h"
#include "gateway/internal/wire.h"
#include "policy/policy.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;
using engine::Engine;
using policy::EnumKind;

// Maps the engine's field path back to the caller's vocabulary.
Problem EngineProblem(const engine::FieldError& e) {
  return Problem{400, e.path == "requester.role" ? "user_role" : e.path, e.message};
}

}  // namespace

// What a decision carries from the request to its answer, across the wait
// for the log to be durable.
struct Service::Pending {
  std::shared_ptr<const PolicyState> state;
  std::shared_ptr<const FieldMap> field_map;
  CallerRequest caller;
  std::shared_ptr<const Resolution> resolution;  // shared with the fact cache, never changed
  Merged merged;  // points into `resolution`
  std::string pseudonym;  // the subject's, for the tracker's index ("" for none)
  std::string request_id;
  bool outward = false;
  bool held = false;  // the entry is appended at the release deadline
};

HttpResponse Service::Released(const Exchange& x, HttpResponse r, bool timed, bool held) {
  if (!x.outward || !timed || r.status == 200) return r;
  // Outward answers that are not a permit, once the person has been looked
  // up, are released at the deadline; one that missed it is released at the
  // next multiple of it, so that slowness shows in steps, not in detail. A
  // refusal whose entry was held until the deadline (`held`) is answered as
  // soon as that entry is durable: every refusal takes that same path.
  auto release = config_.refusal_release;
  auto now = std::chrono::steady_clock::now();
  r.not_before = x.request.arrived + release;
  if (!held && now > r.not_before && release.count() > 0) {
    metrics_.Count("firebreak_refusal_release_missed_total", "");
    auto late = now - x.request.arrived;
    r.not_before = x.request.arrived + release * ((late + release - std::chrono::nanoseconds(1)) / release);
  }
  return r;
}

HttpResponse Service::DecisionFailed(const Exchange& x, const char* kind, const Error& e) {
  metrics_.Count("firebreak_errors_total", fmt::format("kind=\"{}\"", kind));
  AccessLog(json::object{{"ts", NowSeconds()}, {"event", "error"}, {"kind", kind},
                         {"endpoint", x.outward ? "disclosures" : "decisions"},
                         {"code", std::string(ErrorCodeName(e.code()))}});
  return Released(x, ProblemResponse({e.code() == ErrorCode::kUnavailable ? 503 : 500, "",
                                      "the gateway could not decide; nothing was disclosed"}),
                  true);
}

// Runs the pipeline (pipeline.h) up to the log entry, appends it, and
// answers once it is durable. Outward answers that are not a permit, once
// the person has been looked up, are released `refusal_release` after the
// request arrived, whatever made them (a protected person, an unknown or
// ambiguous one, no agreement, a store failure), and an outward refusal's
// entry is appended only then: neither the answer's timing nor the log's
// (a receipt's index, the next checkpoint) tells what a refusal hides
// (docs/operations.md).
void Service::Decide(const std::shared_ptr<Exchange>& x, bool outward) {
  x->outward = outward;
  bool timed = false;
  auto reply = [&](HttpResponse r) {
    x->respond([r = Released(*x, std::move(r), timed)] { return r; });
  };
  auto fail = [&](const char* kind, const Error& e) {
    HttpResponse r = DecisionFailed(*x, kind, e);
    x->respond([r = std::move(r)] { return r; });
  };
  try {
    const char* endpoint = outward ? "disclosures" : "decisions";
    auto p = std::make_shared<Pending>();
    p->outward = outward;
    auto parsed = ParseCaller(x->request.body, x->caller->org);
    if (!parsed) return reply(ProblemResponse(parsed.error()));
    p->caller = std::move(*parsed);
    p->state = policy_.load();
    if (!p->state) return fail("policy", Unavailable("no policy"));
    const Engine& engine = *p->state->live;
    // Validate the caller's vocabulary before touching the store.
    auto base = engine::ReadRequest(p->caller.base, engine.schema());
    if (!base) return reply(ProblemResponse(EngineProblem(base.error())));
    // From here on, what happens may depend on the subject.
    timed = true;

    auto resolved = facts_->Resolve(x->caller->facts, p->caller);
    if (!resolved) return fail("store", resolved.error());
    p->resolution = std::move(*resolved);
    const Resolution& resolution = *p->resolution;
    if (!resolution.unresolved.empty() && !outward) {
      // The holder's own systems get a clear answer; nothing is logged or changed.
      if (resolution.unresolved == "ambiguous-identity") {
        return reply(ProblemResponse(
            {409, "subject", "the identity details match more than one subject; use the reference"}));
      }
      return reply(ProblemResponse({404, "subject", "no subject matches in the holder's records"}));
    }
    p->field_map = field_map_.load();
    auto merged = Evaluate(engine, *base, resolution, *p->field_map);
    if (!merged) return fail("policy", merged.error());
    p->merged = std::move(*merged);

    // Shadow mode: the candidate decides beside the live policy, not enforced.
    if (p->state->shadow && resolution.unresolved.empty()) {
      auto shadow_base = engine::ParseRequest(p->caller.base, p->state->shadow->schema());
      auto shadow = shadow_base ? Evaluate(*p->state->shadow, *shadow_base, resolution, *p->field_map)
                                : Result<Merged>(tl::make_unexpected(shadow_base.error()));
      if (!shadow) {
        metrics_.Count("firebreak_errors_total", "kind=\"shadow\"");
      } else {
        const policy::Schema& ls = engine.schema();
        const policy::Schema& ss = p->state->shadow->schema();
        bool differs = ShadowDiffers(ls, p->merged, ss, *shadow);
        metrics_.Count("firebreak_shadow_decisions_total", differs ? "result=\"differs\"" : "result=\"same\"");
        if (differs) {
          AccessLog(json::object{{"ts", NowSeconds()}, {"event", "shadow-difference"}, {"endpoint", endpoint},
                                 {"live", p->merged.permit ? "permit" : "deny"},
                                 {"shadow", shadow->permit ? "permit" : "deny"},
                                 {"live_disclosed", Names(ls, EnumKind::kCategory, p->merged.disclosed)},
                                 {"shadow_disclosed", Names(ss, EnumKind::kCategory, shadow->disclosed)},
                                 {"shadow_rules", json::value_from(shadow->rules)},
                                 {"purpose", ls.Values(EnumKind::kPurpose)[p->merged.purpose]}});
        }
      }
    }

    // Counted now, not after the release deadline: work after the deadline
    // that depends on the subject (one count per rule) would show in the
    // answer's timing.
    metrics_.Count("firebreak_decisions_total", fmt::format("endpoint=\"{}\",decision=\"{}\"", endpoint,
                                                            p->merged.permit ? "permit" : "deny"));
    for (const std::string& rule : p->merged.rules) {
      metrics_.Count("firebreak_decision_rules_total", fmt::format("rule=\"{}\"", rule));
    }
    auto rid = RandomBytes(16);
    if (!rid) return fail("random", rid.error());
    p->request_id = HexEncode(*rid);
    auto e = DecisionEntry(engine, p->caller, resolution, p->merged, outward, p->request_id, pseudonym_key_,
                           audit_key_, &p->pseudonym);
    if (!e) return fail("seal", e.error());
    std::string text = std::move(*e);
    if (outward && !p->merged.permit && config_.refusal_release.count() > 0) {
      p->held = true;
      timers_->At(x->request.arrived + config_.refusal_release, [this, x, p, text = std::move(text)] {
        try {
          AppendAndAnswer(x, p, text);
        } catch (const std::exception&) {
          HttpResponse r = DecisionFailed(*x, "exception", Internal("exception while logging"));
          x->respond([r = std::move(r)] { return r; });
        }
      });
    } else {
      AppendAndAnswer(x, p, text);
    }
  } catch (const std::exception&) {
    // Fail closed, at the deadline like any other refusal.
    fail("exception", Internal("exception while deciding"));
  }
}

void Service::AppendAndAnswer(const std::shared_ptr<Exchange>& x, const std::shared_ptr<Pending>& p,
                              const std::string& text) {
  if (closed_.load()) {
    HttpResponse r = DecisionFailed(*x, "log", Unavailable("the log is closed"));
    return x->respond([r = std::move(r)] { return r; });
  }
  auto t0 = std::chrono::steady_clock::now();
  // The answer is built once the entry is durable, on the connection's thread.
  auto answer = [this, x, p, t0](Result<uint64_t> index) {
    x->respond([this, x, p, t0, index]() -> HttpResponse {
      if (!index) return DecisionFailed(*x, "log", index.error());
      metrics_.sequence_seconds().Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      const Merged& m = p->merged;
      // The receipt is the entry's place in the log: no second durable write.
      std::string receipt = fmt::format("{}-{}", *index, p->request_id);
      const Engine& engine = *p->state->live;
      // The entry is durable: a disclosure whose answer cannot be built from
      // here is logged as not delivered (a follow-up entry) before the 500.
      try {
        if (!p->outward) return JsonTextResponse(200, RenderDecision(engine, *p->resolution, m, receipt, *index));
        auto [status, body] = RenderDisclosure(engine, m, *p->field_map, receipt);
        HttpResponse r = Released(*x, JsonTextResponse(status, std::move(body)), true, p->held);
        if (m.permit) r.delivers = receipt;
        return r;
      } catch (const std::exception&) {
        if (p->outward && m.permit) {
          // Not on this (I/O) thread: logging waits for the disk.
          timers_->At(std::chrono::steady_clock::now(),
                      [this, receipt] { Undelivered(receipt, "the answer could not be built"); });
        }
        return DecisionFailed(*x, "answer", Internal("building the answer"));
      }
    });
  };
  auto queued = appender_->Enqueue(text, [this, x, p, answer](Result<uint64_t> index) {
    if (index && !p->pseudonym.empty()) IndexForTracker(p->pseudonym, *index);
    if (!index || !p->outward || !witnessing_ || !config_.witness_wait) return answer(index);
    // A disclosure is answered once a witnessed checkpoint covers its entry;
    // if none does in time, it fails closed (and a permit is marked as not
    // delivered). Only the log's size decides when: nothing about the request.
    witnessing_->WhenWitnessed(
        *index, std::chrono::steady_clock::now() + config_.witness_wait_timeout,
        [this, x, p, index, answer](bool witnessed) {
          if (witnessed) return answer(index);
          metrics_.Count("firebreak_witness_wait_timeouts_total", "");
          if (p->merged.permit) {
            std::string receipt = fmt::format("{}-{}", *index, p->request_id);
            timers_->At(std::chrono::steady_clock::now(), [this, receipt] {
              Undelivered(receipt, "no witnessed checkpoint covered the entry in time");
            });
          }
          x->respond([this, x]() -> HttpResponse {
            return DecisionFailed(*x, "witness", Unavailable("the log's checkpoint was not witnessed in time"));
          });
        });
  });
  if (!queued) {
    HttpResponse r = DecisionFailed(*x, "log", queued.error());
    x->respond([r = std::move(r)] { return r; });
  }
}

void Service::Undelivered(const std::string& receipt, const std::string& why) {
  uint64_t index = 0;
  std::string request_id;
  if (!ParseReceiptId(receipt, &index, &request_id)) return;
  metrics_.Count("firebreak_undelivered_total", "");
  auto rid = RandomBytes(16);
  if (!rid) return;
  json::object e{{"v", entry::kVersion},         {"kind", "delivery"},
                 {"time", NowSeconds()},         {"request_id", HexEncode(*rid)},
                 {"refers_to", request_id},      {"refers_to_index", index},
                 {"delivered", false},           {"reason", why}};
  if (auto st = Append(e); !st) {
    metrics_.Count("firebreak_errors_total", "kind=\"log\"");
    AccessLog(json::object{{"ts", NowSeconds()}, {"event", "error"}, {"kind", "undelivered-entry"},
                           {"refers_to", request_id}});
  }
}

}  // namespace firebreak::gateway::internal
