// The gateway's service: construction and shutdown, the policy reload,
// authentication, the one route table and dispatch (see internal/service.h
// and docs/api.md). Each endpoint group's handlers are in api/ (api/api.h).
#include "gateway/internal/service.h"

#include "gateway/api/api.h"
#include "gateway/internal/pipeline.h"
#include "gateway/internal/wire.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <tuple>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/files.h"
#include "policy/policy.h"
#include "verify/verify.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;
using engine::Decision;
using engine::Engine;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

// Everything of `set` a deployment can require: every firewall rule,
// guarantee, named set and normalisation, and the schema, by content hash.
RequiredPolicy RequiredOf(const policy::PolicySet& set) {
  RequiredPolicy r;
  r.sets.emplace();
  r.normalisations.emplace();
  for (const auto& [key, hash] : set.item_hashes) {
    size_t space = key.find(' ');
    std::string kind = key.substr(0, space), name = key.substr(space + 1);
    if (kind == "firewall") r.firewall_rules[name] = hash;
    if (kind == "guarantee") r.guarantees[name] = hash;
    if (kind == "set") (*r.sets)[name] = hash;
    if (kind == "normalise") (*r.normalisations)[name] = hash;
    if (kind == "schema") r.schema = hash;
  }
  return r;
}

// A policy that loaded (or not) and what the deployment gate checked.
struct Candidate {
  std::shared_ptr<const Engine> engine;
  std::vector<std::string> pins_checked, guarantees_proved;
};

// Loads `packs` and checks what a deployment requires: the set type-checks;
// it holds every required firewall rule and guarantee unchanged; every
// required guarantee (and, with `gate`, every guarantee of the set) is
// proved. `required` null: nothing is required (the shadow candidate).
Result<Candidate> LoadCandidate(const std::vector<std::string>& packs, bool gate,
                                const RequiredPolicy* required) {
  if (packs.empty()) return tl::make_unexpected(InvalidArgument("no policy packs given"));
  FB_ASSIGN_OR_RETURN(policy::LoadedPolicy loaded, policy::LoadPolicySet(packs));
  if (!loaded.ok()) {
    return tl::make_unexpected(FailedPrecondition("the policy does not check:\n" + loaded.Render()));
  }
  Candidate c;
  if (required) {
    RequiredPolicy has = RequiredOf(*loaded.set);
    for (const auto& [what, want, got] :
         {std::tuple{"firewall rule", &required->firewall_rules, &has.firewall_rules},
          std::tuple{"guarantee", &required->guarantees, &has.guarantees},
          std::tuple{"named set", &*required->sets, &*has.sets},
          std::tuple{"normalisation", &*required->normalisations, &*has.normalisations}}) {
      for (const auto& [name, hash] : *want) {
        auto it = got->find(name);
        if (it == got->end()) {
          return tl::make_unexpected(FailedPrecondition(
              fmt::format("the required {} `{}` is missing from the policy", what, name)));
        }
        if (it->second != hash) {
          return tl::make_unexpected(FailedPrecondition(fmt::format(
              "the required {} `{}` was altered: its hash is {}, the deployment requires {}", what,
              name, it->second, hash)));
        }
      }
    }
    // Normalisations rewrite the purpose every rule reads: no new one.
    for (const auto& [name, hash] : *has.normalisations) {
      if (!required->normalisations->count(name)) {
        return tl::make_unexpected(FailedPrecondition(fmt::format(
            "the policy adds the normalisation `{}`, which the deployment does not allow (a normalisation "
            "can relabel a firewall purpose); change `policy.required` offline to allow it",
            name)));
      }
    }
    if (has.schema != required->schema) {
      return tl::make_unexpected(FailedPrecondition(fmt::format(
          "the policy's schema differs from the one the deployment requires ({} instead of {})",
          has.schema.value_or("none"), required->schema.value_or("none"))));
    }
    for (const auto& [name, hash] : required->firewall_rules) c.pins_checked.push_back(name);
  }
  if (gate || (required && !required->guarantees.empty())) {
    FB_ASSIGN_OR_RETURN(verify::VerifyReport report, verify::VerifyGuarantees(loaded.set));
    std::vector<std::string> failed;
    for (const verify::GuaranteeResult& g : report.guarantees) {
      if (g.outcome == verify::Outcome::kProved) {
        c.guarantees_proved.push_back(g.name);
      } else if (gate || required->guarantees.count(g.name)) {
        failed.push_back(fmt::format("{} ({})", g.name, verify::OutcomeName(g.outcome)));
      }
    }
    if (!failed.empty()) {
      return tl::make_unexpected(FailedPrecondition(
          fmt::format("the policy is not deployable: guarantees not proved: {}", fmt::join(failed, ", "))));
    }
  }
  c.engine = Engine::Compile(loaded.set);
  FB_RETURN_IF_ERROR(CheckSealedFits(*c.engine));
  return c;
}

// Refuses to start on a secret or personal-data file that its group or
// others may read (or write).
Status CheckPrivate(const std::string& path, const char* what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return tl::make_unexpected(IoError(fmt::format("{} {}: {}", what, path, std::strerror(errno))));
  }
  if (st.st_mode & 077) {
    return tl::make_unexpected(FailedPrecondition(fmt::format(
        "{} {} is readable by others (mode {:04o}); make it private: chmod 600 {}", what, path,
        st.st_mode & 07777, path)));
  }
  return Ok();
}

// A refused reload's reason as the public log may show it: our own
// messages, and of a diagnostic only where it is and its id, never the
// source line or the message quoting it (a file given to a reload may hold
// anything).
std::string PublicReason(const std::string& message) {
  std::string out;
  size_t at = 0;
  while (at < message.size() && out.size() < 2000) {
    size_t end = message.find('\n', at);
    if (end == std::string::npos) end = message.size();
    std::string line = message.substr(at, end - at);
    at = end + 1;
    if (line.empty() || line[0] == ' ' || line[0] == '\t' || line[0] == '|') continue;
    if (line.rfind("error[", 0) == 0 || line.rfind("warning[", 0) == 0) line = ": " + line;
    size_t diag = line.find(": error[");
    if (diag == std::string::npos) diag = line.find(": warning[");
    if (diag != std::string::npos) {
      size_t close = line.find(']', diag);
      line = line.substr(0, close == std::string::npos ? diag : close + 1);
      if (line.rfind(": ", 0) == 0) line = line.substr(2);
    }
    out += out.empty() ? line : "\n" + line;
  }
  return out;
}

}  // namespace

Service::~Service() { (void)Close(); }

Result<std::unique_ptr<Service>> Service::Create(const GatewayConfig& config) {
  auto s = std::unique_ptr<Service>(new Service(config));
  // A store URL ("postgresql://…") is no file, and may hold a password that
  // no message may repeat.
  if (config.store_path.find("://") == std::string::npos) {
    FB_RETURN_IF_ERROR(CheckPrivate(config.store_path, "the store"));
  }
  for (const auto& [path, what] : {std::pair{config.log_key_path, "the log's signing key"},
                                   {config.pseudonym_key_path, "the pseudonym key"},
                                   {config.audit_key_path, "the audit key"},
                                   {config.tls_key, "the TLS private key"}}) {
    FB_RETURN_IF_ERROR(CheckPrivate(path, what));
  }
  for (const std::string& path : config.old_audit_key_paths) {
    FB_RETURN_IF_ERROR(CheckPrivate(path, "an old audit key"));
  }
  FB_ASSIGN_OR_RETURN(s->store_, store::OpenStore(config.store_path));
  s->facts_ = std::make_unique<FactCache>(*s->store_);
  s->report_limiter_ = std::make_unique<RateLimiter>(config.reports_per_second, config.reports_burst);
  s->report_commits_ = std::make_unique<GroupCommitter>(*s->store_);
  {
    Metrics* m = &s->metrics_;
    s->indexer_ = std::make_unique<TrackerIndexer>(*s->store_, [m] {
      m->Count("firebreak_errors_total", "kind=\"tracker-index\"");
    });
  }
  FB_ASSIGN_OR_RETURN(std::string key_text, ReadFile(config.log_key_path));
  FB_ASSIGN_OR_RETURN(ledger::NoteSigner signer, ledger::NoteSigner::FromKeyText(Trim(key_text)));
  s->signer_ = std::make_unique<ledger::NoteSigner>(std::move(signer));
  FB_ASSIGN_OR_RETURN(std::string pkey, ReadFile(config.pseudonym_key_path));
  FB_ASSIGN_OR_RETURN(s->pseudonym_key_, HexDecode(Trim(pkey)));
  if (s->pseudonym_key_.size() < 16) {
    return tl::make_unexpected(InvalidArgument(config.pseudonym_key_path + ": key shorter than 16 bytes"));
  }
  FB_ASSIGN_OR_RETURN(s->audit_key_, entry::ReadAuditKey(config.audit_key_path));
  std::vector<entry::AuditKey> keys{s->audit_key_};
  for (const std::string& path : config.old_audit_key_paths) {
    FB_ASSIGN_OR_RETURN(entry::AuditKey k, entry::ReadAuditKey(path));
    keys.push_back(std::move(k));
  }
  s->keyring_ = entry::Keyring(std::move(keys));
  FB_ASSIGN_OR_RETURN(auto fields, s->store_->FieldCategories());
  s->field_map_.store(std::make_shared<const std::map<std::string, std::string>>(std::move(fields)));
  FB_ASSIGN_OR_RETURN(s->appender_, OpenDecisionLog(config, *s->signer_));
  s->log_reader_ = &s->appender_->reader();
  FB_ASSIGN_OR_RETURN(ledger::NoteVerifier reader_key,
                      ledger::NoteVerifier::FromKeyText(s->signer_->VerifierKeyText()));
  s->log_ = std::make_unique<ledger::LogReader>(*s->log_reader_, std::move(reader_key));
  if (!config.witnesses.empty()) {
    Witnessing::Options wo;
    for (const GatewayConfig::Witness& w : config.witnesses) {
      FB_ASSIGN_OR_RETURN(ledger::NoteVerifier key, ledger::NoteVerifier::FromKeyText(w.key));
      wo.witnesses.push_back({w.url, std::move(key)});
    }
    wo.quorum = config.witness_quorum;
    wo.timeout = config.witness_timeout;
    wo.ca_file = config.witness_ca;
    DecisionLog* appender = s->appender_.get();
    FB_ASSIGN_OR_RETURN(s->witnessing_, Witnessing::Start(std::move(wo), [appender] { return appender->checkpoint(); },
                                                          *s->log_reader_, s->metrics_));
  }
  {
    // What no reload may weaken: the configuration's list, completed (or,
    // with none, entirely given) by the policy loaded now.
    FB_ASSIGN_OR_RETURN(policy::LoadedPolicy loaded, policy::LoadPolicySet(config.policy_packs));
    if (!loaded.ok()) {
      return tl::make_unexpected(FailedPrecondition("the policy does not check:\n" + loaded.Render()));
    }
    RequiredPolicy start = RequiredOf(*loaded.set);
    if (!config.required) {
      s->required_ = std::move(start);
    } else {
      s->required_ = *config.required;
      if (!s->required_.sets) s->required_.sets = start.sets;
      if (!s->required_.normalisations) s->required_.normalisations = start.normalisations;
      if (!s->required_.schema) s->required_.schema = start.schema;
    }
    if (s->required_.guarantees.empty() && !config.verify_policy) {
      AccessLog(json::object{{"ts", NowSeconds()}, {"event", "warning"},
                             {"message", "no guarantee is required and policy.verify is off: a reload may "
                                         "weaken the firewall through its named sets"}});
    }
  }
  FB_RETURN_IF_ERROR(s->Reload(config.policy_packs, "start"));
  FB_RETURN_IF_ERROR(s->OpenConsole());
  return s;
}

Status Service::Close() {
  std::lock_guard lock(close_mu_);
  if (closed_.load()) return Ok();
  // Refusals held for their deadline are appended at it, while the log is
  // still open (at most refusal_release from now).
  // Disclosures waiting for witnesses fail closed now (their permits are
  // marked undelivered through the timer queue, still running).
  if (witnessing_) witnessing_->Shutdown();
  StopConsole();
  timers_.reset();
  closed_ = true;
  if (appender_) return appender_->Close();
  return Ok();
}

Result<uint64_t> Service::Append(const json::object& e) {
  if (closed_.load()) return tl::make_unexpected(Unavailable("the log is closed"));
  auto t0 = std::chrono::steady_clock::now();
  auto index = appender_->Add(entry::CanonicalJson(e));  // returns once durable (sequenced)
  if (index) {
    metrics_.sequence_seconds().Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return index;
}

Status Service::Reload(const std::vector<std::string>& packs_in, const std::string& trigger,
                       const std::optional<store::Organisation>& org) {
  std::lock_guard lock(reload_mu_);
  std::shared_ptr<const PolicyState> old = policy_.load();
  std::vector<std::string> packs = packs_in.empty() ? (old ? old->packs : config_.policy_packs) : packs_in;
  auto state = std::make_shared<PolicyState>();
  state->packs = packs;
  state->shadow_packs = config_.shadow_packs;
  Result<Candidate> live = LoadCandidate(packs, config_.verify_policy, &required_);
  Status st = Ok();
  if (!live) {
    st = tl::make_unexpected(live.error());
  } else {
    state->live = live->engine;
    if (!config_.shadow_packs.empty()) {
      auto shadow = LoadCandidate(config_.shadow_packs, false, nullptr);
      if (!shadow) {
        st = tl::make_unexpected(shadow.error().WithContext("shadow policy"));
      } else {
        state->shadow = shadow->engine;
      }
    }
  }
  // The policy change, accepted or refused, goes to the decision log before
  // it takes effect, so oversight bodies see every change.
  auto rid = RandomBytes(16);
  if (!rid) return tl::make_unexpected(rid.error());
  json::object e{{"v", entry::kVersion},
                 {"kind", "policy"},
                 {"time", NowSeconds()},
                 {"request_id", HexEncode(*rid)},
                 {"trigger", trigger},
                 {"accepted", bool(st)},
                 {"old_policy_hash", old ? json::value(old->live->policy_hash()) : json::value(nullptr)},
                 {"packs", json::value_from(packs)}};
  if (org) e["requester"] = json::object{{"org", org->id}, {"org_type", org->type}};
  if (live) {
    e["policy_hash"] = live->engine->policy_hash();
    e["pins_checked"] = json::value_from(live->pins_checked);
    e["guarantees_proved"] = json::value_from(live->guarantees_proved);
  }
  if (!st) e["reason"] = PublicReason(st.error().message());
  if (appender_) {
    if (auto index = Append(e); !index) {
      metrics_.Count("firebreak_errors_total", "kind=\"log\"");
      return tl::make_unexpected(index.error().WithContext("logging the policy change; the old policy stays"));
    }
  }
  if (!st) {
    metrics_.Count("firebreak_policy_reloads_total", "result=\"refused\"");
    return st;
  }
  std::string hash = state->live->policy_hash();
  policy_.store(std::move(state));
  metrics_.Count("firebreak_policy_reloads_total", "result=\"loaded\"");
  AccessLog(json::object{{"ts", NowSeconds()}, {"event", "policy-loaded"}, {"trigger", trigger},
                         {"policy_hash", hash}});
  return Ok();
}

Result<std::optional<Service::Caller>> Service::Authenticate(const HttpRequest& request) {
  std::optional<store::Organisation> org;
  bool by_certificate = false;
  FB_ASSIGN_OR_RETURN(FactCache::Stamp stamp, facts_->Now());
  if (!request.cert_fingerprint.empty()) {
    FB_ASSIGN_OR_RETURN(org, facts_->Organisation(stamp, store::CredentialKind::kCertificate, request.cert_fingerprint));
    by_certificate = org.has_value();
  }
  if (!org && config_.bearer_tokens && request.authorization.size() > 7 &&
      (request.authorization.compare(0, 7, "Bearer ") == 0 ||
       request.authorization.compare(0, 7, "bearer ") == 0)) {
    std::string token = request.authorization.substr(7);
    FB_ASSIGN_OR_RETURN(org, facts_->Organisation(stamp, store::CredentialKind::kToken,
                                                  HexEncode(DigestBytes(Sha256(token)))));
  }
  if (!org) return std::optional<Caller>();
  return std::optional<Caller>(Caller{std::move(*org), by_certificate, stamp});
}

namespace {

// The route table: every endpoint, once.
struct RouteEntry {
  enum class Match : uint8_t { kExact, kPrefix };
  enum class Who : uint8_t { kAnyone, kCredential, kAdmin, kConsole };
  const char* path;
  Match match;
  const char* method;
  Who who;
  bool may_block;    // run on the worker pool
  const char* name;  // the route label in metrics and the access log
};
constexpr RouteEntry::Match kExact = RouteEntry::Match::kExact, kPrefix = RouteEntry::Match::kPrefix;
constexpr RouteEntry::Who kAnyone = RouteEntry::Who::kAnyone, kCredential = RouteEntry::Who::kCredential,
                          kAdmin = RouteEntry::Who::kAdmin, kConsole = RouteEntry::Who::kConsole;
constexpr RouteEntry kRoutes[] = {
    {"/healthz", kExact, "GET", kAnyone, false, "/healthz"},
    {"/readyz", kExact, "GET", kAnyone, false, "/readyz"},
    {"/log/checkpoint", kExact, "GET", kAnyone, false, "/log/checkpoint"},
    {"/log/tile/", kPrefix, "GET", kAnyone, false, "/log/tile/{path}"},
    {"/v1/disclosures", kExact, "POST", kCredential, false, "/v1/disclosures"},
    {"/v1/decisions", kExact, "POST", kCredential, false, "/v1/decisions"},
    {"/v1/receipts/", kPrefix, "GET", kCredential, true, "/v1/receipts/{id}"},
    // The safe reporting pathway and the tracker (api/reporting.cc). The tracker
    // is opened by a token in a header; a credential is optional (advocates).
    {"/v1/reports", kExact, "POST", kCredential, true, "/v1/reports"},
    {"/v1/tracker", kExact, "GET", kAnyone, true, "/v1/tracker"},
    {"/v1/tracker/export", kExact, "GET", kAnyone, true, "/v1/tracker/export"},
    {"/v1/tracker/rotate", kExact, "POST", kAnyone, true, "/v1/tracker/rotate"},
    {"/admin/tracker/", kPrefix, "POST", kAdmin, true, "/admin/tracker/{what}"},
    {"/metrics", kExact, "GET", kAdmin, false, "/metrics"},
    {"/admin/reload", kExact, "POST", kAdmin, true, "/admin/reload"},
    // The web console (docs/console.md): its static files for anyone (they
    // hold no data), its JSON API for the console's scopes.
    {"/console", kExact, "GET", kAnyone, false, "/console"},
    {"/console/", kPrefix, "GET", kAnyone, false, "/console/{path}"},
    {"/v1/console/policies/diff", kExact, "POST", kConsole, true, "/v1/console/policies/diff"},
    {"/v1/console/policies/replay", kExact, "POST", kConsole, true, "/v1/console/policies/replay"},
    // Transparency releases (api/releases.cc): made by the DPO, read by
    // the console's scopes.
    {"/v1/console/reports", kExact, "POST", kConsole, true, "/v1/console/reports"},
    {"/v1/console/reports", kExact, "GET", kConsole, true, "/v1/console/reports"},
    {"/v1/console/reports/", kPrefix, "GET", kConsole, true, "/v1/console/reports/{id}"},
    {"/v1/console/", kPrefix, "GET", kConsole, true, "/v1/console/{view}"},
};

// The first route for `path`; when its method is not `method`, another entry
// for the same path pattern with that method (one path, several methods),
// else the first (a 405).
const RouteEntry* FindRoute(std::string_view path, std::string_view method = {}) {
  const RouteEntry* first = nullptr;
  for (const RouteEntry& r : kRoutes) {
    bool matches = r.match == kExact ? path == r.path : path.substr(0, std::strlen(r.path)) == r.path;
    if (!matches) continue;
    if (!first) {
      first = &r;
      if (method.empty() || r.method == method) return first;
    } else if (r.match == first->match && std::string_view(r.path) == first->path && r.method == method) {
      return &r;
    }
  }
  return first;
}

std::string_view PathOf(const std::string& target) {
  return std::string_view(target).substr(0, target.find('?'));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> RouteTable() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const RouteEntry& r : kRoutes) out.emplace_back(r.method, r.name);
  return out;
}

bool Service::MayBlock(const HttpRequest& request) const {
  if (request.plain_listener) return false;
  const RouteEntry* r = FindRoute(PathOf(request.target), request.method);
  return r && r->may_block;
}

void Service::Handle(HttpRequest request, Respond respond) {
  auto x = std::make_shared<Exchange>();
  x->request = std::move(request);
  // Every answer goes through here: metrics and the access log, once.
  x->respond = [this, x_weak = std::weak_ptr<Exchange>(x), respond = std::move(respond)](
                   std::function<HttpResponse()> make) {
    auto x = x_weak.lock();
    respond([this, x, make = std::move(make)]() {
      HttpResponse response;
      try {
        response = make();
      } catch (const std::exception&) {
        metrics_.Count("firebreak_errors_total", "kind=\"exception\"");
        response = ProblemResponse({500, "", "internal error; nothing was disclosed"});
        if (x) response = Released(*x, std::move(response), true);
      }
      if (!x) return response;
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - x->start).count();
      metrics_.request_seconds().Observe(secs);
      metrics_.Count("firebreak_http_requests_total",
                     fmt::format("route=\"{}\",code=\"{}\"", x->route, response.status));
      if (config_.access_log) {
        json::object line{{"ts", NowSeconds()}, {"event", "request"}, {"method", x->request.method},
                          {"route", x->route}, {"status", response.status},
                          {"duration_us", int64_t(secs * 1e6)}};
        if (!x->org_id.empty()) line["org"] = x->org_id;
        AccessLog(line);
      }
      return response;
    });
  };
  const std::string& target = x->request.target;
  x->path = std::string(PathOf(target));
  x->query = target.size() > x->path.size() ? target.substr(x->path.size() + 1) : "";
  try {
    Dispatch(x);
  } catch (const std::exception&) {
    // Fail closed: nothing the handlers throw may release data.
    metrics_.Count("firebreak_errors_total", "kind=\"exception\"");
    x->respond([] { return ProblemResponse({500, "", "internal error; nothing was disclosed"}); });
  }
}

void Service::Dispatch(const std::shared_ptr<Exchange>& x) {
  auto reply = [&](HttpResponse r) { x->respond([r = std::move(r)] { return r; }); };
  const HttpRequest& request = x->request;
  const std::string& path = x->path;
  if (request.plain_listener) {
    // The holder's scrape port: metrics and nothing else.
    x->route = path == "/metrics" ? "/metrics" : "other";
    if (path != "/metrics") return reply(ProblemResponse({404, "", "this listener serves only /metrics"}));
    if (request.method != "GET") return reply(ProblemResponse({405, "", "use GET"}));
    return reply(RenderMetrics());
  }
  const RouteEntry* route = FindRoute(path, request.method);
  x->route = route ? route->name : "other";
  if (!route) return reply(ProblemResponse({404, "", "no such endpoint"}));
  if (request.method != route->method) {
    HttpResponse r = ProblemResponse({405, "", std::string("use ") + route->method});
    r.headers.emplace_back("Allow", route->method);
    return reply(std::move(r));
  }
  if (route->who == RouteEntry::Who::kAnyone && path.rfind("/v1/tracker", 0) == 0) {
    if (closed_.load()) return reply(ProblemResponse({503, "", "the gateway is shutting down"}));
    std::optional<Caller> caller;
    if (!request.cert_fingerprint.empty() || !request.authorization.empty()) {
      auto found = Authenticate(request);
      if (!found) return reply(ProblemResponse({503, "", "the tracker could not be read just now"}));
      caller = std::move(*found);
      if (caller) x->org_id = caller->org.id;
    }
    if (path == "/v1/tracker/rotate") return reply(TrackerRotate(request, caller));
    return reply(TrackerView(request, x->query, caller, path == "/v1/tracker/export"));
  }
  if (route->who == RouteEntry::Who::kAnyone) {
    if (path == "/healthz") return reply(JsonResponse(200, json::object{{"status", "ok"}}));
    if (path == "/readyz") {
      return reply(ready() ? JsonResponse(200, json::object{{"status", "ready"}})
                           : JsonResponse(503, json::object{{"status", "not ready"}}));
    }
    if (path.rfind("/console", 0) == 0) return reply(ConsoleFile(path));
    return reply(Tile(path.substr(5)));
  }
  if (closed_.load()) {
    return reply(ProblemResponse({503, "", "the gateway is shutting down; nothing was disclosed"}));
  }
  auto caller = Authenticate(request);
  if (!caller) {
    metrics_.Count("firebreak_errors_total", "kind=\"store\"");
    // A store that cannot answer now (PostgreSQL down) is a 503: try again.
    return reply(ProblemResponse({caller.error().code() == ErrorCode::kUnavailable ? 503 : 500, "",
                                  "the gateway could not authenticate the caller; nothing was disclosed"}));
  }
  if (!*caller) {
    HttpResponse r = ProblemResponse(
        {401, "", "no valid credential: present a client certificate issued to your organisation"
                  " (or a bearer token where enabled)"});
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return reply(std::move(r));
  }
  x->caller = std::move(**caller);
  const Caller& c = *x->caller;
  x->org_id = c.org.id;
  if (route->who == RouteEntry::Who::kConsole && (path == "/v1/console/reports" ||
                                                  path.rfind("/v1/console/reports/", 0) == 0)) {
    return reply(ConsoleReleases(request, path, x->query, c));
  }
  if (route->who == RouteEntry::Who::kConsole) return reply(ConsoleApi(path, x->query, request.body, c.org, c.by_certificate));
  if (route->who == RouteEntry::Who::kAdmin) {
    // The holder's administration needs its client certificate: a bearer
    // token never carries the admin scope.
    if (c.org.scope != store::Scope::kAdmin) {
      return reply(ProblemResponse({403, "", path == "/metrics"
                                                 ? "metrics are for the holder: use the admin client certificate "
                                                   "or the metrics listener inside the holder's network"
                                                 : "this credential may not reload the policy"}));
    }
    if (!c.by_certificate) {
      return reply(ProblemResponse({403, "", "the admin scope needs the admin client certificate; bearer "
                                             "tokens are never accepted for it"}));
    }
    if (path == "/metrics") return reply(RenderMetrics());
    if (path.rfind("/admin/tracker/", 0) == 0) return reply(TrackerAdmin(path.substr(15), request, c));
    return reply(AdminReload(request, c));
  }
  if (path.rfind("/v1/receipts/", 0) == 0) return reply(Receipt(c, path.substr(13), x->query == "format=json"));
  if (path == "/v1/reports") {
    if (c.org.scope != store::Scope::kIntake) {
      return reply(ProblemResponse({403, "", "reports are taken from intake organisations' credentials only"}));
    }
    return reply(TakeReport(request, c));
  }
  if (path == "/v1/disclosures") {
    if (c.org.scope != store::Scope::kRequester) {
      if (c.org.scope == store::Scope::kIntake || c.org.scope == store::Scope::kAdvocate) {
        return reply(ProblemResponse({403, "", "this credential may not request disclosures"}));
      }
      return reply(ProblemResponse({403, "", "this credential is for the holder's own systems: use /v1/decisions"}));
    }
    return Decide(x, true);
  }
  if (path != "/v1/decisions" || c.org.scope != store::Scope::kHolder) {
    return reply(ProblemResponse({403, "", "the decision API is for the holder's own systems"}));
  }
  return Decide(x, false);
}

}  // namespace firebreak::gateway::internal
