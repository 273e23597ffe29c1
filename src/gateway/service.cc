// The gateway's application logic (see internal/service.h and docs/api.md).
#include "gateway/internal/service.h"

#include "gateway/internal/pipeline.h"
#include "gateway/internal/wire.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <tuple>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/files.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/tiles.h"
#include "policy/policy.h"
#include "verify/verify.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;
using engine::Decision;
using engine::Engine;
using policy::EnumKind;


int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

HttpResponse JsonResponse(int status, const json::value& body) {
  HttpResponse r;
  r.status = status;
  r.body = json::serialize(body);
  r.body += '\n';
  return r;
}

HttpResponse ProblemResponse(const Problem& p) {
  json::object e{{"status", p.status}, {"message", p.message}};
  if (!p.field.empty()) e["field"] = p.field;
  return JsonResponse(p.status, json::object{{"error", std::move(e)}});
}

// Maps the engine's field path back to the caller's vocabulary.
Problem EngineProblem(const engine::FieldError& e) {
  return Problem{400, e.path == "requester.role" ? "user_role" : e.path, e.message};
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

void AccessLog(const json::object& line) {
  std::string s = json::serialize(line);
  s += '\n';
  std::fwrite(s.data(), 1, s.size(), stderr);
}

// A receipt names the entry's index and request id: "<index>-<32 hex>".
bool ParseReceiptId(std::string_view id, uint64_t* index, std::string* request_id) {
  size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 19 || id.size() - dash - 1 != 32) return false;
  uint64_t v = 0;
  for (char c : id.substr(0, dash)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  for (char c : id.substr(dash + 1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  *index = v;
  *request_id = std::string(id.substr(dash + 1));
  return true;
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

bool Service::ready() const {
  if (closed_.load() || policy_.load() == nullptr || !appender_) return false;
  ledger::AppenderHealth h = appender_->health();
  return !h.failed && !h.publish_stalled;
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
  if (!request.cert_fingerprint.empty()) {
    FB_ASSIGN_OR_RETURN(org, facts_->Organisation(store::CredentialKind::kCertificate, request.cert_fingerprint));
    by_certificate = org.has_value();
  }
  if (!org && config_.bearer_tokens && request.authorization.size() > 7 &&
      (request.authorization.compare(0, 7, "Bearer ") == 0 ||
       request.authorization.compare(0, 7, "bearer ") == 0)) {
    std::string token = request.authorization.substr(7);
    FB_ASSIGN_OR_RETURN(org, facts_->Organisation(store::CredentialKind::kToken,
                                                  HexEncode(DigestBytes(Sha256(token)))));
  }
  if (!org) return std::optional<Caller>();
  return std::optional<Caller>(Caller{std::move(*org), by_certificate});
}

// One request in flight: what it asked, who asked, and how to answer.
struct Service::Exchange {
  HttpRequest request;
  Respond respond;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string path, query, route, org_id;
  std::optional<Caller> caller;
  bool outward = false;  // /v1/disclosures
};

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
    // The safe reporting pathway and the tracker (reporting.cc). The tracker
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
    // Transparency releases (service_releases.cc): made by the DPO, read by
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

    auto resolved = facts_->Resolve(p->caller);
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
    std::string text = entry::CanonicalJson(*e);
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
        if (!p->outward) return JsonResponse(200, RenderDecision(engine, *p->resolution, m, receipt, *index));
        auto [status, body] = RenderDisclosure(engine, m, *p->field_map, receipt);
        HttpResponse r = Released(*x, JsonResponse(status, body), true, p->held);
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

HttpResponse Service::Receipt(const Caller& caller, const std::string& id, bool as_json) {
  auto fail = [&](const Error& e) {
    metrics_.Count("firebreak_errors_total", "kind=\"receipt\"");
    AccessLog(json::object{{"ts", NowSeconds()}, {"event", "error"}, {"kind", "receipt"},
                           {"code", std::string(ErrorCodeName(e.code()))}});
    return ProblemResponse({500, "", "the receipt could not be built"});
  };
  uint64_t index = 0;
  std::string request_id;
  if (!ParseReceiptId(id, &index, &request_id) || index >= appender_->sequenced_size()) {
    return ProblemResponse({404, "", "no such receipt"});
  }
  auto t0 = std::chrono::steady_clock::now();
  // Bounded: a stalled publisher must not hold every worker (or shutdown).
  if (auto st = appender_->WaitPublished(index, std::chrono::seconds(5)); !st) {
    if (st.error().code() == ErrorCode::kUnavailable) {
      HttpResponse r = ProblemResponse({503, "", "the log has not published this entry yet; try again shortly"});
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    return fail(st.error());
  }
  metrics_.publish_seconds().Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  auto snapshot = log_->Latest();
  if (!snapshot) return fail(snapshot.error());
  if (witnessing_) {
    // Against the newest witnessed checkpoint when it covers the entry, so
    // that the receipt carries the cosignatures; else the newest, with the
    // cosignatures collected for it so far.
    std::string served = witnessing_->Served();
    auto note = ledger::ParseNote(served);
    auto cp = note ? ledger::ParseCheckpoint(note->text) : Result<ledger::Checkpoint>(tl::make_unexpected(Internal("")));
    if (cp && cp->size > index && cp->size <= snapshot->checkpoint.size) {
      snapshot->note = served;
      snapshot->checkpoint = *cp;
    } else {
      snapshot->note = witnessing_->WithCosignatures(snapshot->note);
    }
  }
  if (snapshot->checkpoint.size <= index) return fail(Internal("published checkpoint does not cover the entry"));
  auto entry_text = log_->Entry(*snapshot, index);
  if (!entry_text) return fail(entry_text.error());
  // Receipts are for the organisation they were issued to; anything else is
  // "no such receipt", in the same words.
  auto parsed = entry::Parse(*entry_text);
  if (!parsed) return ProblemResponse({404, "", "no such receipt"});
  const json::value* rid = parsed->if_contains("request_id");
  const json::value* req = parsed->if_contains("requester");
  const json::value* org = req && req->is_object() ? req->get_object().if_contains("org") : nullptr;
  if (!rid || !rid->is_string() || !ConstantTimeEquals(rid->get_string(), request_id) || !org ||
      !org->is_string() || org->get_string() != caller.org.id) {
    return ProblemResponse({404, "", "no such receipt"});
  }
  auto built = log_->ReceiptFor(*snapshot, index);
  if (!built) return fail(built.error());
  ledger::Receipt& receipt = *built;
  std::string text = ledger::FormatReceipt(receipt);
  if (as_json) {
    return JsonResponse(200, json::object{{"receipt", id},
                                          {"index", index},
                                          {"entry", receipt.extra},
                                          {"tlog_proof", text},
                                          {"log_key", signer_->VerifierKeyText()}});
  }
  HttpResponse out;
  out.content_type = "text/plain; charset=utf-8";
  out.body = std::move(text);
  return out;
}

HttpResponse Service::Tile(const std::string& path) {
  if (path != "checkpoint" && !ledger::ParseTilePath(path)) {
    return ProblemResponse({404, "", "not a tlog-tiles path"});
  }
  auto data = log_reader_->ReadFile(path);
  if (!data) {
    if (data.error().code() == ErrorCode::kNotFound) return ProblemResponse({404, "", "no such tile"});
    metrics_.Count("firebreak_errors_total", "kind=\"tile\"");
    if (data.error().code() == ErrorCode::kUnavailable) return ProblemResponse({503, "", "the log cannot be read now"});
    return ProblemResponse({500, "", "could not read the log"});
  }
  HttpResponse out;
  out.body = std::move(*data);
  if (path == "checkpoint" && witnessing_) {
    // With its cosignatures (witnessing.h says which checkpoint).
    std::string served = witnessing_->Served();
    if (!served.empty()) out.body = std::move(served);
  }
  if (path == "checkpoint") {
    out.content_type = "text/plain; charset=utf-8";
    out.headers.emplace_back("Cache-Control", "no-cache");
  } else {
    out.content_type = "application/octet-stream";
    bool partial = path.find(".p/") != std::string::npos;
    out.headers.emplace_back("Cache-Control", partial ? "public, max-age=60" : "public, max-age=31536000, immutable");
  }
  return out;
}

HttpResponse Service::AdminReload(const HttpRequest& request, const Caller& caller) {
  std::vector<std::string> packs;
  if (!request.body.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(request.body, ec);
    if (ec || !v.is_object()) return ProblemResponse({400, "", "the body must be a JSON object"});
    for (const auto& kv : v.get_object()) {
      if (kv.key() != "packs") return ProblemResponse({400, std::string(kv.key()), "unknown field"});
      if (!kv.value().is_array()) return ProblemResponse({400, "packs", "must be a list of pack directories"});
      for (const auto& p : kv.value().get_array()) {
        if (!p.is_string()) return ProblemResponse({400, "packs", "must be a list of pack directories"});
        packs.emplace_back(p.get_string());
      }
    }
  }
  Status st = Reload(packs, "api", caller.org);
  std::shared_ptr<const PolicyState> state = policy_.load();
  if (!st) {
    return JsonResponse(422, json::object{{"reloaded", false},
                                          {"error", st.error().ToString()},
                                          {"policy_hash", state->live->policy_hash()},
                                          {"packs", json::value_from(state->packs)}});
  }
  return JsonResponse(200, json::object{{"reloaded", true},
                                        {"policy_hash", state->live->policy_hash()},
                                        {"packs", json::value_from(state->packs)}});
}

HttpResponse Service::RenderMetrics() {
  std::string extra;
  if (appender_) {
    ledger::AppenderHealth h = appender_->health();
    extra += fmt::format("# TYPE firebreak_log_sequenced_size gauge\nfirebreak_log_sequenced_size {}\n",
                         appender_->sequenced_size());
    extra += fmt::format("# TYPE firebreak_log_published_size gauge\nfirebreak_log_published_size {}\n",
                         appender_->published_size());
    extra += fmt::format("# TYPE firebreak_log_publish_retries_total counter\nfirebreak_log_publish_retries_total {}\n",
                         h.publish_retries);
    extra += fmt::format("# TYPE firebreak_log_failed gauge\nfirebreak_log_failed{{reason=\"{}\"}} {}\n",
                         h.failed ? "appender-stopped" : (h.publish_stalled ? "publishing-stalled" : ""),
                         h.failed || h.publish_stalled ? 1 : 0);
  }
  if (appender_) extra += appender_->RenderGauges();
  if (witnessing_) extra += witnessing_->RenderGauges();
  extra += RenderTrackerGauges();
  std::shared_ptr<const PolicyState> state = policy_.load();
  if (state) {
    extra += fmt::format("# TYPE firebreak_policy_info gauge\nfirebreak_policy_info{{hash=\"{}\",shadow=\"{}\"}} 1\n",
                         state->live->policy_hash(), state->shadow ? state->shadow->policy_hash() : "");
  }
  HttpResponse out;
  out.content_type = "text/plain; version=0.0.4";
  out.body = metrics_.Render(extra);
  return out;
}

}  // namespace firebreak::gateway::internal
