// Front door of `gateway`: the firewall in front of a holder's records. An
// HTTPS server (mutual TLS; bearer tokens for development) through which
// every request for personal data passes:
//   POST /v1/disclosures      an outside body asks for categories about a person
//   POST /v1/decisions        the holder's own systems ask before acting
//   GET  /v1/receipts/{id}    a C2SP tlog-proof for a decision
//   GET  /log/checkpoint, /log/tile/...   the decision log as static tiles
//   POST /admin/reload        the DPO reloads the policy (also SIGHUP)
//   GET  /healthz, /readyz, /metrics
// Data flows one way (DESIGN §4): authenticate → resolve the subject's facts
// from the store (never from the caller) → decide once per source record →
// append one log entry and wait until it is durable → return only the
// permitted fields. docs/api.md describes every endpoint.
//
// Error model: start-up problems are `Error`s. At run time every failure
// closes the gate: a 5xx or a deny, never data.
// Thread model: thread-safe. `Start` returns a running server; `Stop` (or
// the destructor) drains and closes the log.
//
//   FB_ASSIGN_OR_RETURN(GatewayConfig config, LoadConfig("/srv/force/firebreak.json"));
//   FB_ASSIGN_OR_RETURN(std::unique_ptr<Gateway> gw, Gateway::Start(config));
//   gw->Wait();  // until Stop(), SIGINT or SIGTERM (with handle_signals)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace firebreak::gateway {

// What no reload may weaken, by name and content hash ("sha256:<hex>" of
// the item's canonical text, as `firebreak check --lock` prints them). A
// policy is loaded only if it holds every listed firewall rule, guarantee and
// named set unchanged, proves every listed guarantee, has exactly the listed
// normalisations (one could relabel a firewall purpose) and the same schema
// (a new purpose could escape the firewall's lists).
struct RequiredPolicy {
  std::map<std::string, std::string> firewall_rules;
  std::map<std::string, std::string> guarantees;
  // nullopt: those of the policy loaded at start.
  std::optional<std::map<std::string, std::string>> sets;
  std::optional<std::map<std::string, std::string>> normalisations;
  std::optional<std::string> schema;
};

struct GatewayConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8443;  // 0: an ephemeral port (see Gateway::port)
  std::string store_path;
  std::string log_dir;
  // Instead of `log_dir`: the log in PostgreSQL, shared by several nodes
  // (docs/operations.md, "Several nodes"): its URL, this node's name, and
  // the sequencer's lease term (fail-over takes up to about this long).
  std::string log_database;
  std::string node_name;
  std::chrono::milliseconds lease_term{3000};
  std::string log_key_path;        // "PRIVATE+KEY+<origin>+..."
  std::string pseudonym_key_path;  // hex HMAC key for subject pseudonyms
  // hex AES-256 key sealing the sensitive part of each log entry; shared with
  // the oversight bodies that audit the log (docs/log-format.md)
  std::string audit_key_path;
  // Older audit keys, so receipts and `log open` still read entries sealed
  // before a rotation (docs/operations.md). Not used for sealing.
  std::vector<std::string> old_audit_key_paths;
  std::string tls_cert, tls_key, client_ca;
  // Accept "Authorization: Bearer" as well as certificates (development and
  // the demo only); never for the admin scope.
  bool bearer_tokens = false;
  // A second, plain-HTTP listener serving only GET /metrics, for scraping
  // inside the holder's network ("host:port"; empty: none). On the HTTPS
  // listener /metrics needs an admin client certificate.
  std::string metrics_listen;
  // Allow `metrics_listen` on an address other than loopback (a management
  // network the holder controls): per-rule counters tell why requests were
  // refused, so they must never reach a requester.
  bool metrics_remote = false;
  std::vector<std::string> policy_packs;
  std::vector<std::string> shadow_packs;  // a candidate evaluated beside the live policy
  bool verify_policy = true;              // the deployment gate (src/verify)
  // What no reload may weaken (docs/operations.md); nullopt: the firewall
  // rules and guarantees of the policy loaded at start.
  std::optional<RequiredPolicy> required;
  size_t max_body_bytes = 65536;
  // Concurrent connections; 0: half the descriptor limit read at start, at
  // most 10,000. Must leave http::Server::kReservedDescriptors (64) free.
  size_t max_connections = 0;
  // Every outward refusal is released this long after the request arrived,
  // so that its timing cannot tell why it was refused (docs/operations.md).
  std::chrono::milliseconds refusal_release{20};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds publish_interval{500};
  // Witnesses that cosign the log's checkpoints (docs/operations.md,
  // "Witnesses"): each new checkpoint goes to all of them; `witness_quorum`
  // of them must cosign for a checkpoint to count as witnessed.
  struct Witness {
    std::string url;  // the submission prefix: "<url>/add-checkpoint"
    std::string key;  // its verifier key, "<name>+<id>+<base64(0x04 ‖ key)>"
  };
  std::vector<Witness> witnesses;
  size_t witness_quorum = 0;  // k of n; 0 with no witnesses
  // Answer a decision or disclosure only once a checkpoint covering its entry
  // is witnessed (up to `witness_wait_timeout`, then 503 and the entry is
  // marked undelivered). Off by default: it costs about half the publish
  // interval plus a witness round trip per answer.
  bool witness_wait = false;
  std::chrono::milliseconds witness_wait_timeout{5000};
  std::chrono::milliseconds witness_timeout{3000};  // per request to a witness
  std::string witness_ca;  // PEM CAs for https:// witnesses; empty: the system's
  int io_threads = 2;
  int worker_threads = 64;
  bool access_log = true;      // one JSON line per request on stderr
  // The web console's built files (web/console/dist), served under /console/.
  // Empty: the build tree's default (FIREBREAK_CONSOLE_DIR), when built;
  // without it /console/ answers 404 and the console's JSON API still works.
  std::string console_dir;
  // The safe reporting pathway and the tracker (docs/reporting.md,
  // docs/tracker.md): reports each intake organisation may send per second
  // (sustained) and in a burst, and the longest covert hold.
  double reports_per_second = 50;
  double reports_burst = 200;
  int64_t max_hold_days = 180;
  // Transparency releases made through the console (docs/reports.md): the
  // budget ledger directory (ledger.json and releases/) and the holder's ε
  // per calendar year, a rational, used when the ledger is new. Empty
  // `reports_dir`: releases cannot be made on this gateway (503).
  std::string reports_dir;
  std::string reports_yearly_budget = "1";
  bool handle_signals = false;  // SIGHUP reloads, SIGINT/SIGTERM stop
};

// Rebuilds the tracker's index (pseudonym → log indices, docs/tracker.md)
// from the published log: every entry is opened with the configuration's
// audit keys and its sealed pseudonym noted. Idempotent; safe while the
// gateway runs. Returns the number of entries indexed; `progress` is called
// now and then with (entries read, log size).
Result<uint64_t> RebuildTrackerIndex(const GatewayConfig& config,
                                     const std::function<void(uint64_t, uint64_t)>& progress = {});

// Reads a JSON configuration (docs/operations.md); relative paths are taken
// from the directory of `path`. Unknown keys are errors.
Result<GatewayConfig> LoadConfig(const std::string& path);
// The same from text, as if read from `path` (relative paths are taken from
// its directory).
Result<GatewayConfig> ParseConfig(std::string_view text, const std::string& path);

class Gateway {
 public:
  static Result<std::unique_ptr<Gateway>> Start(const GatewayConfig& config);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  uint16_t port() const;
  // The metrics listener's port (0 when there is none).
  uint16_t metrics_port() const;
  // The connection cap in force and the descriptor limit it was derived from.
  size_t max_connections() const;
  size_t descriptor_limit() const;
  // Loads, checks, verifies and compiles the policy packs (`packs`, or the
  // configured ones when empty) and swaps them in; on any failure the old
  // policy stays and the error says why. Accepted or not, the reload is an
  // entry in the decision log (`trigger` says who asked).
  Status Reload(const std::vector<std::string>& packs = {}, const std::string& trigger = "api");
  // Blocks until Stop() is called or a stop signal arrives.
  void Wait();
  // Stops accepting, finishes in-flight requests, publishes and closes the log.
  Status Stop();

  struct Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak::gateway
