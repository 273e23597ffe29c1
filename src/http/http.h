// Front door of `http`: the one HTTPS server of Firebreak (Boost.Beast over
// Asio with OpenSSL), so that the gateway, and later the witness and the
// console, share one implementation of what an exposed server must get
// right: TLS 1.2 with AEAD suites only and TLS 1.3; the client certificate's
// fingerprint; keep-alive with header and idle timeouts; body and header
// limits (413, 431) with a lingering close; chunked bodies refused before
// any of them is read (411); a connection cap derived from the descriptor
// limit, with back-off when out of descriptors and at most half the slots
// for connections without a client certificate; an optional plain-HTTP
// listener for the holder's own scrapes; answers released no earlier than
// the handler asks. Without `client_ca` no client certificate is asked for;
// without `tls_cert` the main listener speaks plain HTTP. The outgoing
// client is `http/client.h`. This is the only folder of Firebreak that
// includes Beast.
//
// Error model: start-up problems are `Error`s; at run time a bad request is
// answered (4xx) or the connection closed.
// Thread model: the handler is called on the I/O threads (or, for requests
// it says may block, on the worker pool) and must be thread-safe.
//
//   http::Server::Options o;  o.port = 8443;  o.tls_cert = ...;
//   FB_ASSIGN_OR_RETURN(auto server, http::Server::Start(o, handler));
//   ...
//   server->Stop();
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace firebreak::http {

struct Request {
  std::string method;
  std::string target;  // path and query
  std::string authorization;
  std::string content_type;
  // The data-subject tracker's token (the Firebreak-Tracker-Token header;
  // a header, so that it never appears in a URL or an access log).
  std::string tracker_token;
  std::string cert_fingerprint;  // hex SHA-256 of the client certificate's DER, or empty
  std::string body;
  // When the request was read in full.
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();
  // Came in on the plain-HTTP listener (the holder's own network).
  bool plain_listener = false;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Not to be sent before this instant; epoch: at once.
  std::chrono::steady_clock::time_point not_before{};
  // When set, a failure to write the answer is reported to the handler
  // (`Handler::Undelivered`) with this token.
  std::string delivers;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Hands the work of building the answer back to the connection's own
  // thread; may be called from any thread, exactly once per request.
  using Respond = std::function<void(std::function<Response()>)>;
  virtual void Handle(Request request, Respond respond) = 0;
  // Whether `Handle` may block on `request` (it then runs on the worker pool).
  virtual bool MayBlock(const Request& request) const = 0;
  // The answer carrying `token` (Response::delivers) could not be written.
  // Called on the worker pool.
  virtual void Undelivered(const std::string& token, const std::string& why) = 0;
  // Counts an event of the server's own (refused connections, accept
  // back-offs) under a Prometheus counter name and label text.
  virtual void Count(const std::string& name, const std::string& labels) = 0;
};

class Server {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 8443;  // 0: ephemeral
    // TLS certificate chain and key (PEM). Both empty: the main listener
    // speaks plain HTTP (a witness behind a TLS-terminating proxy, tests
    // and benchmarks on loopback); the gateway always sets them.
    std::string tls_cert, tls_key;
    // CAs for client certificates (PEM). Empty: no client certificate is
    // asked for (a public server such as the witness) and the half-share
    // for connections without one does not apply. Needs `tls_cert`.
    std::string client_ca;
    std::string plain_listen;  // "host:port" of the plain-HTTP listener, or ""
    size_t max_body_bytes = 65536;
    std::chrono::milliseconds header_timeout{10000};
    std::chrono::milliseconds idle_timeout{30000};
    int io_threads = 2;  // each runs its own share of the connections (dealt in turn)
    int worker_threads = 64;
    size_t max_connections = 0;  // 0: half the descriptor limit, at most 10,000
  };
  // Descriptors kept free of connections for files the handler opens.
  static constexpr size_t kReservedDescriptors = 64;

  // Binds and starts serving. `handler` must outlive the server.
  static Result<std::unique_ptr<Server>> Start(const Options& options, Handler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  uint16_t plain_port() const;  // 0 when there is none
  size_t max_connections() const;
  size_t descriptor_limit() const;

  // Runs `fn` on the worker pool.
  void Post(std::function<void()> fn);
  // Calls `on_signal` (on an I/O thread) for each of `signals` received.
  void OnSignals(std::vector<int> signals, std::function<void(int)> on_signal);
  // Stops accepting and reading, lets running handlers finish (their
  // answers are not sent) and joins every thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak::http
