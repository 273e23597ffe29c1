// The gateway's application logic, free of HTTP machinery: a request in
// (method, path, credential, body), a response out. `server.cc` feeds it
// from Beast. One route table (service.cc) says, per endpoint, the method,
// the scope and whether the handler may block; the handlers are in api/.
//
// Thread model: thread-safe. `Handle` runs on the connection's I/O thread
// for endpoints that do not block (store reads are short; waiting for the
// log to be durable is a callback, not a wait) and on the worker pool for
// those that do (`MayBlock`: receipts wait for a checkpoint, reloads run the
// verifier). It answers through `respond` exactly once, possibly from the
// log's sequencer thread: `respond` must hand the thunk back to the
// connection's own thread, where it is run to build the response.
#pragma once

#include <atomic>
#include <functional>
#include <chrono>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/error.h"
#include "engine/engine.h"
#include "entry/entry.h"
#include "gateway/gateway.h"
#include "gateway/internal/console.h"
#include "gateway/internal/decision_log.h"
#include "gateway/internal/fact_cache.h"
#include "gateway/internal/metrics.h"
#include "gateway/internal/static_files.h"
#include "gateway/internal/reports.h"
#include "gateway/internal/tracker.h"
#include "gateway/internal/timer_queue.h"
#include "gateway/internal/witnessing.h"
#include "http/http.h"
#include "ledger/appender.h"
#include "ledger/log_reader.h"
#include "ledger/note.h"
#include "ledger/storage.h"
#include "store/store.h"

namespace firebreak::gateway::internal {

using HttpRequest = http::Request;
using HttpResponse = http::Response;

// The policy in force and the shadow candidate, swapped together.
struct PolicyState {
  std::shared_ptr<const engine::Engine> live;
  std::shared_ptr<const engine::Engine> shadow;  // may be null
  std::vector<std::string> packs, shadow_packs;
};

// The route table as (method, route name): "GET", "/v1/receipts/{id}", …
// (docs/openapi.yaml documents each; openapi_test checks it).
std::vector<std::pair<std::string, std::string>> RouteTable();

class Service : public http::Handler {
 public:
  static Result<std::unique_ptr<Service>> Create(const GatewayConfig& config);
  ~Service();

  void Handle(HttpRequest request, Respond respond) override;
  // Whether `Handle` may block on `request` (run it on the worker pool).
  bool MayBlock(const HttpRequest& request) const override;
  void Count(const std::string& name, const std::string& labels) override { metrics_.Count(name, labels); }
  // `trigger`: "start", "SIGHUP" or "api"; `org`: the admin's organisation.
  Status Reload(const std::vector<std::string>& packs, const std::string& trigger,
                const std::optional<store::Organisation>& org = std::nullopt);
  // The answer of decision `request_id` could not be written to the caller:
  // appends a follow-up entry saying so.
  void Undelivered(const std::string& request_id, const std::string& why) override;
  // Publishes and closes the log; later requests fail closed.
  Status Close();
  bool ready() const;
  Metrics& metrics() { return metrics_; }

 private:
  // An authenticated caller (its organisation from the store).
  struct Caller {
    store::Organisation org;
    bool by_certificate = false;
    FactCache::Stamp facts;  // the store as of authentication: the request's reads use it
  };
  struct Exchange;  // api/api.h
  struct Pending;   // api/disclosures.cc
  explicit Service(const GatewayConfig& config) : config_(config) {}

  void Dispatch(const std::shared_ptr<Exchange>& x);
  // POST /v1/disclosures and /v1/decisions (api/disclosures.cc).
  void Decide(const std::shared_ptr<Exchange>& x, bool outward);
  void AppendAndAnswer(const std::shared_ptr<Exchange>& x, const std::shared_ptr<Pending>& p,
                       const std::string& entry_text);
  // `r` with its release time set (outward answers that are not a permit).
  HttpResponse Released(const Exchange& x, HttpResponse r, bool timed, bool held = false);
  HttpResponse DecisionFailed(const Exchange& x, const char* kind, const Error& e);
  // Appends a log entry; returns its index once durable.
  Result<uint64_t> Append(const boost::json::object& entry);
  HttpResponse Receipt(const Caller& caller, const std::string& id, bool json);  // api/receipts.cc
  HttpResponse Tile(const std::string& path);                                     // api/log.cc
  HttpResponse AdminReload(const HttpRequest& request, const Caller& caller);     // api/admin.cc
  // The safe reporting pathway and the tracker (api/reporting.cc).
  HttpResponse TakeReport(const HttpRequest& request, const Caller& caller);
  HttpResponse TrackerView(const HttpRequest& request, const std::string& query, const std::optional<Caller>& caller,
                           bool export_pack);
  HttpResponse TrackerRotate(const HttpRequest& request, const std::optional<Caller>& caller);
  HttpResponse TrackerAdmin(const std::string& what, const HttpRequest& request, const Caller& caller);
  std::string RenderTrackerGauges();
  // Notes a durable entry about the subject with `pseudonym` in the tracker's index.
  void IndexForTracker(const std::string& pseudonym, uint64_t index);
  HttpResponse RenderMetrics();  // api/health.cc
  Result<std::optional<Caller>> Authenticate(const HttpRequest& request);
  // The console (api/console.cc): its files and its JSON API.
  Status OpenConsole();
  void StopConsole();
  HttpResponse ConsoleFile(const std::string& path);
  HttpResponse ConsoleApi(const std::string& path, const std::string& query, const std::string& body,
                          const store::Organisation& org, bool by_certificate);

  // Transparency releases through the console (api/releases.cc):
  // POST /v1/console/reports (admin) makes one and logs it; GET lists them
  // and GET /v1/console/reports/{id} shows one (admin, analyst, oversight).
  HttpResponse ConsoleReleases(const HttpRequest& request, const std::string& path, const std::string& query,
                               const Caller& caller);
  HttpResponse MakeConsoleRelease(const std::string& body, const Caller& caller);

  GatewayConfig config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<FactCache> facts_;  // authentication and subjects, while the store is unchanged
  std::unique_ptr<ledger::NoteSigner> signer_;
  // The log (a directory, or PostgreSQL shared by several nodes).
  std::unique_ptr<DecisionLog> appender_;
  ledger::LogStorage* log_reader_ = nullptr;  // appender_'s published log, for tiles
  std::unique_ptr<ledger::LogReader> log_;    // for receipts
  // Asks the configured witnesses to cosign each new checkpoint; null
  // without witnesses. Stopped in Close, before the log closes.
  std::unique_ptr<Witnessing> witnessing_;
  std::string pseudonym_key_;
  entry::AuditKey audit_key_;  // seals entries for oversight
  entry::Keyring keyring_;     // the audit key and older ones, for reading
  RequiredPolicy required_;    // what no reload may weaken
  std::atomic<std::shared_ptr<const PolicyState>> policy_;
  std::atomic<std::shared_ptr<const std::map<std::string, std::string>>> field_map_;
  std::mutex reload_mu_;
  std::mutex close_mu_;  // Close runs once, whoever calls it
  std::atomic<bool> closed_{false};
  internal::Metrics metrics_;
  // Holds outward refusals' entries until the release deadline; reset
  // (running what is queued) in Close, before the log closes.
  std::unique_ptr<TimerQueue> timers_ = std::make_unique<TimerQueue>();
  std::unique_ptr<Console> console_;
  std::optional<StaticFiles> console_files_;  // none when the console is not built
  std::mutex console_diff_mu_;                 // one policy comparison at a time
  // Reads the log into the console's index once at start, so that the first
  // visit does not wait for it; stopped and joined in Close.
  std::thread console_warmup_;
  std::mutex release_mu_;  // one release made at a time
  std::unique_ptr<RateLimiter> report_limiter_;
  std::unique_ptr<GroupCommitter> report_commits_;
  // After store_: stopped (its queue written) before the store closes.
  std::unique_ptr<TrackerIndexer> indexer_;
};

}  // namespace firebreak::gateway::internal
