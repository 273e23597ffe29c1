// The gateway's JSON configuration (docs/operations.md).
#include <filesystem>
#include <set>

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/files.h"
#include "gateway/gateway.h"
#include "report/dlaplace.h"
#include "ledger/note.h"

namespace firebreak::gateway {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

Error Bad(const std::string& path, const std::string& what) {
  return InvalidArgument(path + ": " + what);
}

Status OnlyKeys(const json::object& o, const std::string& where, std::set<std::string> keys) {
  for (const auto& kv : o) {
    if (!keys.count(std::string(kv.key()))) {
      return tl::make_unexpected(InvalidArgument("unknown key `" + where + std::string(kv.key()) + "`"));
    }
  }
  return Ok();
}

}  // namespace

Result<GatewayConfig> LoadConfig(const std::string& path) {
  FB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseConfig(text, path);
}

Result<GatewayConfig> ParseConfig(std::string_view text, const std::string& path) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return tl::make_unexpected(Bad(path, "not a JSON object"));
  const json::object& o = v.get_object();
  Status keys = OnlyKeys(o, "", {"listen", "store", "log", "pseudonym_key", "audit_key", "old_audit_keys", "tls",
                                 "bearer_tokens", "metrics_listen", "metrics_remote", "policy", "limits", "threads",
                                 "access_log", "witnesses", "console_dir", "reporting", "reports_dir",
                                 "reports_yearly_budget"});
  if (!keys) return tl::make_unexpected(keys.error().WithContext(path));
  fs::path base = fs::absolute(path).parent_path();
  GatewayConfig c;
  std::string error;
  auto str = [&](const json::object& obj, const char* key, std::string* out, bool relative) {
    const json::value* x = obj.if_contains(key);
    if (!x) {
      if (error.empty()) error = std::string("missing `") + key + "`";
      return;
    }
    if (!x->is_string()) {
      if (error.empty()) error = std::string("`") + key + "` must be a string";
      return;
    }
    *out = std::string(x->get_string());
    if (relative) *out = (base / *out).lexically_normal().string();
  };
  auto num = [&](const json::object& obj, const char* key, int64_t lo, int64_t hi, auto* out) {
    const json::value* x = obj.if_contains(key);
    if (!x) return;
    if (!x->is_int64() || x->get_int64() < lo || x->get_int64() > hi) {
      if (error.empty()) error = std::string("`") + key + "` must be an integer in [" +
                                 std::to_string(lo) + ", " + std::to_string(hi) + "]";
      return;
    }
    *out = static_cast<std::remove_reference_t<decltype(*out)>>(x->get_int64());
  };
  auto obj = [&](const char* key) -> const json::object* {
    const json::value* x = o.if_contains(key);
    if (!x || !x->is_object()) {
      if (error.empty()) error = std::string("`") + key + "` must be an object";
      return nullptr;
    }
    return &x->get_object();
  };

  std::string listen;
  str(o, "listen", &listen, false);
  size_t colon = listen.rfind(':');
  if (error.empty()) {
    if (colon == std::string::npos) return tl::make_unexpected(Bad(path, "`listen` must be host:port"));
    c.host = listen.substr(0, colon);
    if (c.host.size() > 2 && c.host.front() == '[') c.host = c.host.substr(1, c.host.size() - 2);
    try {
      int port = std::stoi(listen.substr(colon + 1));
      if (port < 0 || port > 65535) throw std::out_of_range("port");
      c.port = uint16_t(port);
    } catch (const std::exception&) {
      return tl::make_unexpected(Bad(path, "`listen` has a bad port"));
    }
  }
  str(o, "store", &c.store_path, false);
  // A file path is relative to the configuration; a URL
  // ("postgresql://…") is not a path.
  if (!c.store_path.empty() && c.store_path.find("://") == std::string::npos) {
    c.store_path = (base / c.store_path).lexically_normal().string();
  }
  str(o, "pseudonym_key", &c.pseudonym_key_path, true);
  str(o, "audit_key", &c.audit_key_path, true);
  if (const json::value* x = o.if_contains("old_audit_keys")) {
    if (!x->is_array()) return tl::make_unexpected(Bad(path, "`old_audit_keys` must be a list of key files"));
    for (const json::value& k : x->get_array()) {
      if (!k.is_string()) return tl::make_unexpected(Bad(path, "`old_audit_keys` must be a list of key files"));
      c.old_audit_key_paths.push_back((base / std::string(k.get_string())).lexically_normal().string());
    }
  }
  if (const json::value* x = o.if_contains("metrics_listen")) {
    if (!x->is_string()) return tl::make_unexpected(Bad(path, "`metrics_listen` must be \"host:port\" or \"\""));
    c.metrics_listen = std::string(x->get_string());
    if (!c.metrics_listen.empty()) {
      size_t colon = c.metrics_listen.rfind(':');
      std::string port = colon == std::string::npos ? "" : c.metrics_listen.substr(colon + 1);
      bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoi(port) > 65535) {
        return tl::make_unexpected(Bad(path, "`metrics_listen` must be host:port with a port in [0, 65535]"));
      }
    }
  }
  if (const json::value* x = o.if_contains("metrics_remote")) {
    if (!x->is_bool()) return tl::make_unexpected(Bad(path, "`metrics_remote` must be true or false"));
    c.metrics_remote = x->get_bool();
  }
  if (const json::object* log = obj("log")) {
    FB_RETURN_IF_ERROR(
        OnlyKeys(*log, "log.", {"dir", "key", "publish_interval_ms", "database", "node", "lease_term_ms"}));
    if (log->contains("database")) {
      // The log in PostgreSQL; "store": the store's own database.
      if (log->contains("dir") && error.empty()) error = "`log.dir` and `log.database` exclude each other";
      str(*log, "database", &c.log_database, false);
      if (c.log_database == "store") c.log_database = c.store_path;
      if (error.empty() && c.log_database.rfind("postgresql://", 0) != 0 &&
          c.log_database.rfind("postgres://", 0) != 0) {
        error = "`log.database` must be a postgresql:// URL, or \"store\" with the store on PostgreSQL";
      }
      str(*log, "node", &c.node_name, false);
      if (error.empty() && (c.node_name.empty() || c.node_name.size() > 64 ||
                            c.node_name.find_first_of(" /\t\n") != std::string::npos)) {
        error = "`log.node` must be 1 to 64 characters without spaces or '/'";
      }
      int64_t term = c.lease_term.count();
      num(*log, "lease_term_ms", 300, 600000, &term);
      c.lease_term = std::chrono::milliseconds(term);
    } else {
      str(*log, "dir", &c.log_dir, true);
    }
    str(*log, "key", &c.log_key_path, true);
    int64_t ms = c.publish_interval.count();
    num(*log, "publish_interval_ms", 1, 60000, &ms);
    c.publish_interval = std::chrono::milliseconds(ms);
  }
  if (const json::object* tls = obj("tls")) {
    FB_RETURN_IF_ERROR(OnlyKeys(*tls, "tls.", {"cert", "key", "client_ca"}));
    str(*tls, "cert", &c.tls_cert, true);
    str(*tls, "key", &c.tls_key, true);
    str(*tls, "client_ca", &c.client_ca, true);
  }
  if (const json::value* b = o.if_contains("bearer_tokens")) {
    if (!b->is_bool()) return tl::make_unexpected(Bad(path, "`bearer_tokens` must be true or false"));
    c.bearer_tokens = b->get_bool();
  }
  if (o.if_contains("console_dir")) str(o, "console_dir", &c.console_dir, true);
  if (o.if_contains("reports_dir")) str(o, "reports_dir", &c.reports_dir, true);
  if (o.if_contains("reports_yearly_budget")) {
    str(o, "reports_yearly_budget", &c.reports_yearly_budget, false);
    if (auto b = report::Rational::Parse(c.reports_yearly_budget); error.empty() && !b) {
      return tl::make_unexpected(Bad(path, "`reports_yearly_budget`: " + b.error().message()));
    }
  }
  if (const json::value* b = o.if_contains("access_log")) {
    if (!b->is_bool()) return tl::make_unexpected(Bad(path, "`access_log` must be true or false"));
    c.access_log = b->get_bool();
  }
  if (const json::object* policy = obj("policy")) {
    FB_RETURN_IF_ERROR(OnlyKeys(*policy, "policy.", {"packs", "shadow_packs", "verify", "required"}));
    if (const json::value* x = policy->if_contains("required")) {
      if (!x->is_object()) return tl::make_unexpected(Bad(path, "`policy.required` must be an object"));
      FB_RETURN_IF_ERROR(OnlyKeys(x->get_object(), "policy.required.",
                                  {"firewall_rules", "guarantees", "sets", "normalisations", "schema"}));
      RequiredPolicy req;
      auto is_hash = [](std::string_view h) {
        return h.size() == 71 && h.substr(0, 7) == "sha256:" && HexDecode(h.substr(7)).has_value();
      };
      if (const json::value* sc = x->get_object().if_contains("schema")) {
        if (!sc->is_string() || !is_hash(sc->get_string())) {
          return tl::make_unexpected(Bad(path, "`policy.required.schema` must be \"sha256:\" followed by 64 hex digits"));
        }
        req.schema = std::string(sc->get_string());
      }
      for (const char* key : {"sets", "normalisations"}) {
        if (x->get_object().contains(key)) {
          (std::string_view(key) == "sets" ? req.sets : req.normalisations).emplace();
        }
      }
      for (const char* key : {"firewall_rules", "guarantees", "sets", "normalisations"}) {
        const json::value* m = x->get_object().if_contains(key);
        if (!m) continue;
        std::string where = std::string("`policy.required.") + key + "`";
        if (!m->is_object()) return tl::make_unexpected(Bad(path, where + " must map names to \"sha256:…\" hashes"));
        for (const auto& kv : m->get_object()) {
          std::string_view h = kv.value().is_string() ? std::string_view(kv.value().get_string()) : "";
          if (!is_hash(h)) {
            return tl::make_unexpected(Bad(path, where + "." + std::string(kv.key()) +
                                                     " must be \"sha256:\" followed by 64 hex digits"));
          }
          std::string_view k(key);
          auto& into = k == "guarantees"       ? req.guarantees
                       : k == "firewall_rules" ? req.firewall_rules
                       : k == "sets"           ? *req.sets
                                               : *req.normalisations;
          into.emplace(std::string(kv.key()), std::string(h));
        }
      }
      c.required = std::move(req);
    }
    for (const char* key : {"packs", "shadow_packs"}) {
      const json::value* x = policy->if_contains(key);
      if (!x) continue;
      if (!x->is_array()) return tl::make_unexpected(Bad(path, std::string("`policy.") + key + "` must be a list"));
      for (const json::value& p : x->get_array()) {
        if (!p.is_string()) return tl::make_unexpected(Bad(path, "policy packs must be paths"));
        std::string s = (base / std::string(p.get_string())).lexically_normal().string();
        (std::string_view(key) == "packs" ? c.policy_packs : c.shadow_packs).push_back(s);
      }
    }
    if (const json::value* x = policy->if_contains("verify")) {
      if (!x->is_bool()) return tl::make_unexpected(Bad(path, "`policy.verify` must be true or false"));
      c.verify_policy = x->get_bool();
    }
    if (c.policy_packs.empty()) return tl::make_unexpected(Bad(path, "`policy.packs` is empty"));
  }
  if (const json::value* x = o.if_contains("limits")) {
    if (!x->is_object()) return tl::make_unexpected(Bad(path, "`limits` must be an object"));
    const json::object& l = x->get_object();
    FB_RETURN_IF_ERROR(OnlyKeys(l, "limits.", {"max_body_bytes", "header_timeout_ms", "idle_timeout_ms",
                                                "max_connections", "refusal_release_ms"}));
    num(l, "max_body_bytes", 256, 16 << 20, &c.max_body_bytes);
    num(l, "max_connections", 1, 1000000, &c.max_connections);
    int64_t rr = c.refusal_release.count();
    num(l, "refusal_release_ms", 1, 10000, &rr);
    c.refusal_release = std::chrono::milliseconds(rr);
    int64_t h = c.header_timeout.count(), i = c.idle_timeout.count();
    num(l, "header_timeout_ms", 10, 600000, &h);
    num(l, "idle_timeout_ms", 10, 3600000, &i);
    c.header_timeout = std::chrono::milliseconds(h);
    c.idle_timeout = std::chrono::milliseconds(i);
  }
  if (const json::value* x = o.if_contains("threads")) {
    if (!x->is_object()) return tl::make_unexpected(Bad(path, "`threads` must be an object"));
    const json::object& t = x->get_object();
    FB_RETURN_IF_ERROR(OnlyKeys(t, "threads.", {"io", "workers"}));
    num(t, "io", 1, 64, &c.io_threads);
    num(t, "workers", 1, 1024, &c.worker_threads);
  }
  if (const json::value* x = o.if_contains("reporting")) {
    if (!x->is_object()) return tl::make_unexpected(Bad(path, "`reporting` must be an object"));
    const json::object& r = x->get_object();
    FB_RETURN_IF_ERROR(OnlyKeys(r, "reporting.", {"reports_per_second", "reports_burst", "max_hold_days"}));
    int64_t rate = int64_t(c.reports_per_second), burst = int64_t(c.reports_burst);
    num(r, "reports_per_second", 1, 1000000, &rate);
    num(r, "reports_burst", 1, 1000000, &burst);
    num(r, "max_hold_days", 1, 3650, &c.max_hold_days);
    c.reports_per_second = double(rate);
    c.reports_burst = double(burst);
  }
  if (const json::value* x = o.if_contains("witnesses")) {
    if (!x->is_object()) return tl::make_unexpected(Bad(path, "`witnesses` must be an object"));
    const json::object& w = x->get_object();
    FB_RETURN_IF_ERROR(OnlyKeys(w, "witnesses.", {"list", "quorum", "wait", "wait_timeout_ms", "timeout_ms", "ca_file"}));
    const json::value* list = w.if_contains("list");
    if (!list || !list->is_array()) {
      return tl::make_unexpected(Bad(path, "`witnesses.list` must be a list of {\"url\", \"key\"}"));
    }
    for (size_t i = 0; i < list->get_array().size(); ++i) {
      const json::value& e = list->get_array()[i];
      std::string where = "witnesses.list[" + std::to_string(i) + "]";
      if (!e.is_object()) return tl::make_unexpected(Bad(path, "`" + where + "` must be an object"));
      FB_RETURN_IF_ERROR(OnlyKeys(e.get_object(), where + ".", {"url", "key"}));
      GatewayConfig::Witness wc;
      const json::value* url = e.get_object().if_contains("url");
      const json::value* key = e.get_object().if_contains("key");
      if (!url || !url->is_string() ||
          !(url->get_string().starts_with("http://") || url->get_string().starts_with("https://"))) {
        return tl::make_unexpected(Bad(path, "`" + where + ".url` must be an http:// or https:// URL"));
      }
      if (!key || !key->is_string()) return tl::make_unexpected(Bad(path, "`" + where + ".key` must be a verifier key"));
      wc.url = std::string(url->get_string());
      while (!wc.url.empty() && wc.url.back() == '/') wc.url.pop_back();
      wc.key = std::string(key->get_string());
      auto v = ledger::NoteVerifier::FromKeyText(wc.key);
      if (!v || v->type() != ledger::kSigTypeCosignatureV1) {
        return tl::make_unexpected(Bad(path, "`" + where + ".key` is not a witness (cosignature/v1, type 0x04) verifier key" +
                                                 (v ? std::string() : ": " + v.error().message())));
      }
      c.witnesses.push_back(std::move(wc));
    }
    int64_t k = int64_t(c.witnesses.size());
    num(w, "quorum", 0, int64_t(c.witnesses.size()), &k);
    c.witness_quorum = size_t(k);
    if (const json::value* b = w.if_contains("wait")) {
      if (!b->is_bool()) return tl::make_unexpected(Bad(path, "`witnesses.wait` must be true or false"));
      c.witness_wait = b->get_bool();
    }
    int64_t wt = c.witness_wait_timeout.count(), t = c.witness_timeout.count();
    num(w, "wait_timeout_ms", 10, 600000, &wt);
    num(w, "timeout_ms", 10, 600000, &t);
    c.witness_wait_timeout = std::chrono::milliseconds(wt);
    c.witness_timeout = std::chrono::milliseconds(t);
    if (const json::value* ca = w.if_contains("ca_file")) {
      if (!ca->is_string()) return tl::make_unexpected(Bad(path, "`witnesses.ca_file` must be a path"));
      c.witness_ca = (base / std::string(ca->get_string())).lexically_normal().string();
    }
    if (c.witness_wait && c.witness_quorum == 0) {
      return tl::make_unexpected(Bad(path, "`witnesses.wait` needs a quorum of at least 1"));
    }
  }
  if (!error.empty()) return tl::make_unexpected(Bad(path, error));
  return c;
}

}  // namespace firebreak::gateway
