// The gateway's application logic, free of HTTP machinery: a request in
// (method, path, credential, body), a response out. `server.cc` feeds it
// from Beast; tests may call it directly.
//
// Thread model: thread-safe; `Handle` runs on many worker threads at once
// and may block (store reads, waiting for the log to be durable).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "engine/engine.h"
#include "gateway/gateway.h"
#include "gateway/internal/metrics.h"
#include "ledger/appender.h"
#include "ledger/note.h"
#include "ledger/storage.h"
#include "store/store.h"

namespace firebreak::gateway::internal {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query
  std::string authorization;
  std::string content_type;
  std::string cert_fingerprint;  // hex SHA-256 of the client certificate, or empty
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The policy in force and the shadow candidate, swapped together.
struct PolicyState {
  std::shared_ptr<const engine::Engine> live;
  std::shared_ptr<const engine::Engine> shadow;  // may be null
  std::vector<std::string> packs, shadow_packs;
};

class Service {
 public:
  static Result<std::unique_ptr<Service>> Create(const GatewayConfig& config);
  ~Service();

  HttpResponse Handle(const HttpRequest& request);
  Status Reload(const std::vector<std::string>& packs);
  // Publishes and closes the log; later requests fail closed.
  Status Close();
  bool ready() const;
  Metrics& metrics() { return metrics_; }

 private:
  struct Caller;
  struct Outcome;
  explicit Service(const GatewayConfig& config) : config_(config) {}

  HttpResponse Decide(const HttpRequest& request, const Caller& caller, bool outward);
  HttpResponse Receipt(const Caller& caller, const std::string& id, bool json);
  HttpResponse Tile(const std::string& path);
  HttpResponse AdminReload(const HttpRequest& request);
  HttpResponse RenderMetrics();
  Result<std::optional<Caller>> Authenticate(const HttpRequest& request);

  GatewayConfig config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ledger::PosixStorage> log_storage_;
  std::unique_ptr<ledger::NoteSigner> signer_;
  std::unique_ptr<ledger::Appender> appender_;
  std::string pseudonym_key_;
  std::string audit_key_;  // AES-256 key sealing entries for oversight
  std::atomic<std::shared_ptr<const PolicyState>> policy_;
  std::atomic<std::shared_ptr<const std::map<std::string, std::string>>> field_map_;
  std::mutex reload_mu_;
  std::atomic<bool> closed_{false};
  internal::Metrics metrics_;
};

// RFC 8785 canonical JSON of `v` (integers only; keys sorted by UTF-16 code
// units, which for our ASCII keys is byte order).
std::string CanonicalJson(const boost::json::value& v);

}  // namespace firebreak::gateway::internal
