// A small synchronous HTTPS client for the gateway's end-to-end tests: the
// demo force's CA, one organisation's client certificate (or none), keep-alive.
//
// Thread model: a `Client` is thread-compatible; `Call` is thread-safe.
//
//   testing::Client ie(dir, port, demo::kOrgImmigrationEnforcement);
//   testing::Reply r = ie.Post("/v1/disclosures", testing::Disclosure(...));
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

namespace firebreak::gateway::testing {

struct Reply {
  int status = 0;  // the HTTP status; < 0: connect, handshake, write or read failed
  std::string body;
  std::chrono::nanoseconds elapsed{0};  // from sending to the whole answer read
  // The body as a JSON object; an empty object if it is not one.
  boost::json::object Json() const;
};

struct ClientOptions {
  std::string token;                 // adds "Authorization: Bearer <token>"
  std::string tls12_ciphers;         // forces TLS 1.2 with these suites (handshake tests)
};

class Client {
 public:
  // Connects to 127.0.0.1:`port` with `dir`/pki/clients/`org`.pem (empty: no
  // certificate).
  Client(const std::string& dir, uint16_t port, const std::string& org, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Empty when connected; else what failed.
  const std::string& error() const;
  Reply Request(const std::string& method, const std::string& target, const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers = {});
  Reply Post(const std::string& target, const std::string& body) { return Request("POST", target, body); }
  Reply Get(const std::string& target) { return Request("GET", target, ""); }
  // Writes raw bytes on the TLS stream and reads one answer (for malformed
  // and chunked requests).
  Reply Raw(const std::string& bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection.
Reply Call(const std::string& dir, uint16_t port, const std::string& method, const std::string& target,
           const std::string& body, const std::string& org, const std::string& token = "");

// Plain HTTP (the metrics listener).
Reply PlainGet(uint16_t port, const std::string& target);

// The body of a disclosure request.
std::string Disclosure(const std::string& purpose, const std::string& action,
                       const std::vector<std::string>& cats, const std::string& basis,
                       const std::string& role, const std::string& subject_json);
std::string Ref(const std::string& reference);

}  // namespace firebreak::gateway::testing
