// The witness's JSON configuration (docs/oversight.md, "The witness").
#include <filesystem>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/files.h"
#include "oversight/witness/witness.h"

namespace firebreak::oversight::witness {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

Error Bad(std::string_view what) { return InvalidArgument(std::string(what)); }

}  // namespace

Result<WitnessConfig> LoadWitnessConfig(const std::string& path) {
  FB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto c = ParseWitnessConfig(text);
  if (!c) return tl::make_unexpected(c.error().WithContext(path));
  // Relative file names are relative to the configuration's folder.
  fs::path base = fs::absolute(path).parent_path();
  for (std::string* f : {&c->key_file, &c->state, &c->tls_cert, &c->tls_key}) {
    if (!f->empty()) *f = (base / *f).lexically_normal().string();
  }
  return c;
}

Result<WitnessConfig> ParseWitnessConfig(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return tl::make_unexpected(Bad("not a JSON object"));
  const json::object& o = v.get_object();
  const std::set<std::string> known = {"key",   "state",         "listen",       "tls",
                                       "prefix", "max_body_bytes", "rate_per_log", "burst_per_log",
                                       "threads", "logs", "max_evidence_per_log"};
  for (const auto& kv : o) {
    if (!known.count(std::string(kv.key()))) {
      return tl::make_unexpected(Bad(fmt::format("unknown key `{}`", std::string_view(kv.key()))));
    }
  }
  WitnessConfig c;
  auto str = [&](const json::object& obj, const char* key, std::string* out,
                 bool required) -> Status {
    const json::value* x = obj.if_contains(key);
    if (!x) {
      if (required) return tl::make_unexpected(Bad(fmt::format("missing `{}`", key)));
      return Ok();
    }
    if (!x->is_string()) return tl::make_unexpected(Bad(fmt::format("`{}` must be a string", key)));
    *out = std::string(x->get_string());
    return Ok();
  };
  auto num = [&](const char* key, double lo, double hi, double* out) -> Status {
    const json::value* x = o.if_contains(key);
    if (!x) return Ok();
    if (!x->is_number() || x->to_number<double>() < lo || x->to_number<double>() > hi) {
      return tl::make_unexpected(Bad(fmt::format("`{}` must be a number in [{}, {}]", key, lo, hi)));
    }
    *out = x->to_number<double>();
    return Ok();
  };
  FB_RETURN_IF_ERROR(str(o, "key", &c.key_file, true));
  FB_RETURN_IF_ERROR(str(o, "state", &c.state, true));
  FB_RETURN_IF_ERROR(str(o, "listen", &c.listen, false));
  if (c.listen.rfind(':') == std::string::npos) {
    return tl::make_unexpected(Bad("`listen` must be host:port"));
  }
  FB_RETURN_IF_ERROR(str(o, "prefix", &c.prefix, false));
  if (!c.prefix.empty() && (c.prefix.front() != '/' || c.prefix.back() == '/')) {
    return tl::make_unexpected(Bad("`prefix` must start with \"/\" and not end with one (or be \"\")"));
  }
  if (const json::value* tls = o.if_contains("tls")) {
    if (!tls->is_object()) return tl::make_unexpected(Bad("`tls` must be an object {cert, key}"));
    for (const auto& kv : tls->get_object()) {
      if (kv.key() != "cert" && kv.key() != "key") {
        return tl::make_unexpected(Bad(fmt::format("unknown key `tls.{}`", std::string_view(kv.key()))));
      }
    }
    FB_RETURN_IF_ERROR(str(tls->get_object(), "cert", &c.tls_cert, true));
    FB_RETURN_IF_ERROR(str(tls->get_object(), "key", &c.tls_key, true));
  }
  double body = double(c.max_body_bytes), threads = c.worker_threads,
         evidence = double(c.max_evidence_per_log);
  FB_RETURN_IF_ERROR(num("max_evidence_per_log", 0, 1e9, &evidence));
  c.max_evidence_per_log = uint64_t(evidence);
  FB_RETURN_IF_ERROR(num("max_body_bytes", 1024, 1 << 20, &body));
  FB_RETURN_IF_ERROR(num("rate_per_log", 0.001, 1e6, &c.rate_per_log));
  FB_RETURN_IF_ERROR(num("burst_per_log", 1, 1e6, &c.burst_per_log));
  FB_RETURN_IF_ERROR(num("threads", 1, 1024, &threads));
  c.max_body_bytes = size_t(body);
  c.worker_threads = int(threads);
  const json::value* logs = o.if_contains("logs");
  if (!logs || !logs->is_array()) {
    return tl::make_unexpected(Bad("`logs` must be a list of {\"origin\": ..., \"keys\": [...]}"));
  }
  for (size_t i = 0; i < logs->get_array().size(); ++i) {
    const json::value& l = logs->get_array()[i];
    std::string where = fmt::format("logs[{}]", i);
    if (!l.is_object()) return tl::make_unexpected(Bad(where + " must be an object"));
    WatchedLog w;
    for (const auto& kv : l.get_object()) {
      if (kv.key() != "origin" && kv.key() != "keys") {
        return tl::make_unexpected(Bad(fmt::format("unknown key `{}.{}`", where, std::string_view(kv.key()))));
      }
    }
    auto st = str(l.get_object(), "origin", &w.origin, true);
    if (!st) return tl::make_unexpected(st.error().WithContext(where));
    const json::value* keys = l.get_object().if_contains("keys");
    if (!keys || !keys->is_array() || keys->get_array().empty()) {
      return tl::make_unexpected(Bad(where + ".keys must be a non-empty list of verifier keys"));
    }
    for (const json::value& k : keys->get_array()) {
      if (!k.is_string()) return tl::make_unexpected(Bad(where + ".keys must be strings"));
      auto key = ledger::NoteVerifier::FromKeyText(std::string(k.get_string()));
      if (!key) return tl::make_unexpected(key.error().WithContext(where + ".keys"));
      if (key->type() != ledger::kSigTypeEd25519) {
        return tl::make_unexpected(Bad(where + ".keys: a log key must be an Ed25519 note key (type 0x01)"));
      }
      w.keys.push_back(std::move(*key));
    }
    c.logs.push_back(std::move(w));
  }
  return c;
}

}  // namespace firebreak::oversight::witness
