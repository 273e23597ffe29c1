// A synchronous HTTP/1.1 client for Firebreak's outgoing calls (the
// gateway asking witnesses to cosign; the monitor fetching checkpoints,
// tiles and bundles): http:// and https:// URLs, an optional CA file
// (default: the system's trust store) with host-name verification, an
// optional client certificate, connect and exchange timeouts, a limit on the
// answer's body, and keep-alive connections reused per (scheme, host, port).
// Beast stays inside `http/`: callers see only this header.
//
// Error model: a request that could not be made or whose answer could not be
// read (bad URL, DNS, refused, TLS, timeout, oversized or malformed answer) is
// an `Error` (kInvalidArgument for a bad URL, kUnavailable otherwise). Any
// HTTP status, 4xx and 5xx included, is a `Response`, not an error.
// Thread model: thread-safe; calls may run concurrently, each on its own
// connection (idle ones are kept for reuse, at most `max_idle_per_origin`
// per origin). A call blocks its thread until the answer or a timeout.
//
//   http::Client::Options o;  o.ca_file = "ca.pem";
//   FB_ASSIGN_OR_RETURN(auto client, http::Client::Create(o));
//   FB_ASSIGN_OR_RETURN(http::ClientResponse r,
//                       client->Post("https://w.example/add-checkpoint", body, "text/plain"));
//   if (r.status == 200) ...
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace firebreak::http {

struct ClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

class Client {
 public:
  struct Options {
    // PEM file of the CAs that https:// servers must chain to; empty: the
    // system's default trust store.
    std::string ca_file;
    // PEM client certificate and key for mutual TLS; both or neither.
    std::string client_cert, client_key;
    // Time to resolve, connect and (for https) finish the TLS handshake.
    std::chrono::milliseconds connect_timeout{5000};
    // Time to write the request and read the whole answer.
    std::chrono::milliseconds exchange_timeout{10000};
    // Answers with a larger body are an error (and the connection dropped).
    size_t max_body_bytes = size_t{16} << 20;
    // Idle keep-alive connections kept per (scheme, host, port).
    size_t max_idle_per_origin = 8;
    // Sent as User-Agent.
    std::string user_agent = "firebreak";
  };

  // Loads the CA file and client certificate (errors name the file).
  [[nodiscard]] static Result<std::unique_ptr<Client>> Create(const Options& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  using Headers = std::vector<std::pair<std::string, std::string>>;

  // GET `url`.
  [[nodiscard]] Result<ClientResponse> Get(std::string_view url, const Headers& headers = {});
  // POST `body` to `url` with `content_type`.
  [[nodiscard]] Result<ClientResponse> Post(std::string_view url, std::string body,
                                            std::string_view content_type,
                                            const Headers& headers = {});
  // Any method. A request on a reused keep-alive connection that fails
  // before any byte of the answer arrives (the server closed it while idle)
  // is sent once more on a fresh connection, whatever the method: callers
  // must only send requests that are safe to repeat (GETs; tlog-witness's
  // add-checkpoint, which a repeat answers with 409 or a fresh cosignature).
  [[nodiscard]] Result<ClientResponse> Send(std::string_view method, std::string_view url,
                                            std::string body, std::string_view content_type,
                                            const Headers& headers = {});

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak::http
