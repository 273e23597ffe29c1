// The outgoing HTTP client (client.h). Each connection owns a small
// io_context; a call runs Beast's asynchronous operations on it to
// completion on the caller's thread, so that `tcp_stream` timeouts apply.
#include "http/client.h"

#include <openssl/ssl.h>

#include <map>
#include <mutex>
#include <optional>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

namespace firebreak::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

struct Target {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string path;  // path and query, at least "/"
  std::string origin_key;
  std::string host_header;
};

Result<Target> ParseUrl(std::string_view url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return tl::make_unexpected(InvalidArgument(fmt::format("`{}` is not a URL", url)));
  Target t;
  if (u->scheme() == "https") {
    t.tls = true;
  } else if (u->scheme() != "http") {
    return tl::make_unexpected(
        InvalidArgument(fmt::format("`{}`: only http:// and https:// URLs are supported", url)));
  }
  if (!u->has_authority() || u->encoded_host().empty()) {
    return tl::make_unexpected(InvalidArgument(fmt::format("`{}` has no host", url)));
  }
  if (u->has_userinfo()) {
    return tl::make_unexpected(InvalidArgument(fmt::format("`{}`: credentials in URLs are not supported", url)));
  }
  t.host = std::string(u->encoded_host_address());
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  t.port = u->has_port() ? std::string(u->port()) : (t.tls ? "443" : "80");
  t.path = std::string(u->encoded_path());
  if (t.path.empty()) t.path = "/";
  if (u->has_query()) t.path += "?" + std::string(u->encoded_query());
  t.host_header = std::string(u->encoded_host_and_port());
  t.origin_key = std::string(u->scheme()) + "://" + t.host_header;
  return t;
}

bool IsIpAddress(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct Connection {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Runs the posted operations to completion.
  void Run() {
    ioc.restart();
    ioc.run();
  }
};

struct Client::Impl {
  Options options;
  ssl::context ctx{ssl::context::tls_client};
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;  // guarded by mu

  Result<std::unique_ptr<Connection>> Connect(const Target& t);
  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }
  void PutIdle(const std::string& key, std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu);
    auto& v = idle[key];
    if (v.size() < options.max_idle_per_origin) v.push_back(std::move(c));
  }
  // One exchange on `c`. `answered` tells whether any byte of an answer came.
  Result<ClientResponse> Exchange(Connection& c, const bhttp::request<bhttp::string_body>& req,
                                  bool& answered, bool& keep_alive);
};

Result<std::unique_ptr<Connection>> Client::Impl::Connect(const Target& t) {
  auto c = std::make_unique<Connection>();
  if (t.tls) {
    c->tls.emplace(c->ioc, ctx);
  } else {
    c->plain.emplace(c->ioc);
  }
  beast::error_code ec;
  tcp::resolver resolver(c->ioc);
  tcp::resolver::results_type endpoints;
  c->Lowest().expires_after(options.connect_timeout);
  resolver.async_resolve(t.host, t.port, [&](beast::error_code e, tcp::resolver::results_type r) {
    ec = e;
    endpoints = std::move(r);
  });
  c->Run();
  if (ec) {
    return tl::make_unexpected(Unavailable(fmt::format("resolving `{}`: {}", t.host, ec.message())));
  }
  c->Lowest().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  c->Run();
  if (ec) {
    return tl::make_unexpected(
        Unavailable(fmt::format("connecting to {}:{}: {}", t.host, t.port, ec.message())));
  }
  beast::error_code ignored;
  c->Lowest().socket().set_option(tcp::no_delay(true), ignored);
  if (t.tls) {
    SSL* s = c->tls->native_handle();
    if (!IsIpAddress(t.host)) SSL_set_tlsext_host_name(s, t.host.c_str());
    c->tls->set_verify_mode(ssl::verify_peer);
    c->tls->set_verify_callback(ssl::host_name_verification(t.host));
    c->tls->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    c->Run();
    if (ec) {
      return tl::make_unexpected(
          Unavailable(fmt::format("TLS handshake with {}:{}: {}", t.host, t.port, ec.message())));
    }
  }
  return c;
}

Result<ClientResponse> Client::Impl::Exchange(Connection& c,
                                              const bhttp::request<bhttp::string_body>& req,
                                              bool& answered, bool& keep_alive) {
  answered = false;
  beast::error_code ec;
  c.Lowest().expires_after(options.exchange_timeout);
  auto on_write = [&](beast::error_code e, size_t) { ec = e; };
  if (c.tls) {
    bhttp::async_write(*c.tls, req, on_write);
  } else {
    bhttp::async_write(*c.plain, req, on_write);
  }
  c.Run();
  if (ec) return tl::make_unexpected(Unavailable("writing the request: " + ec.message()));
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(64 * 1024);
  size_t before = c.buffer.size();
  size_t read = 0;
  auto on_read = [&](beast::error_code e, size_t n) {
    ec = e;
    read = n;
  };
  if (c.tls) {
    bhttp::async_read(*c.tls, c.buffer, parser, on_read);
  } else {
    bhttp::async_read(*c.plain, c.buffer, parser, on_read);
  }
  c.Run();
  answered = read > 0 || before > 0 || parser.got_some();
  if (ec == bhttp::error::body_limit) {
    return tl::make_unexpected(Unavailable(
        fmt::format("the answer's body exceeds {} bytes", options.max_body_bytes)));
  }
  if (ec) return tl::make_unexpected(Unavailable("reading the answer: " + ec.message()));
  auto res = parser.release();
  keep_alive = res.keep_alive();
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[bhttp::field::content_type]);
  out.body = std::move(res.body());
  return out;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Create(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (options.client_cert.empty() != options.client_key.empty()) {
    return tl::make_unexpected(
        InvalidArgument("a client certificate needs both its certificate and its key file"));
  }
  try {
    impl->ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1);
    if (options.ca_file.empty()) {
      impl->ctx.set_default_verify_paths();
    } else {
      beast::error_code ec;
      impl->ctx.load_verify_file(options.ca_file, ec);
      if (ec) {
        return tl::make_unexpected(
            InvalidArgument(fmt::format("reading the CA file `{}`: {}", options.ca_file, ec.message())));
      }
    }
    if (!options.client_cert.empty()) {
      beast::error_code ec;
      impl->ctx.use_certificate_chain_file(options.client_cert, ec);
      if (!ec) impl->ctx.use_private_key_file(options.client_key, ssl::context::pem, ec);
      if (ec) {
        return tl::make_unexpected(InvalidArgument(fmt::format(
            "reading the client certificate `{}` / key `{}`: {}", options.client_cert,
            options.client_key, ec.message())));
      }
    }
  } catch (const std::exception& e) {
    return tl::make_unexpected(InvalidArgument(std::string("setting up TLS: ") + e.what()));
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<ClientResponse> Client::Get(std::string_view url, const Headers& headers) {
  return Send("GET", url, "", "", headers);
}

Result<ClientResponse> Client::Post(std::string_view url, std::string body,
                                    std::string_view content_type, const Headers& headers) {
  return Send("POST", url, std::move(body), content_type, headers);
}

Result<ClientResponse> Client::Send(std::string_view method, std::string_view url,
                                    std::string body, std::string_view content_type,
                                    const Headers& headers) {
  FB_ASSIGN_OR_RETURN(Target t, ParseUrl(url));
  bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    return tl::make_unexpected(InvalidArgument(fmt::format("`{}` is not an HTTP method", method)));
  }
  bhttp::request<bhttp::string_body> req{verb, t.path, 11};
  req.set(bhttp::field::host, t.host_header);
  req.set(bhttp::field::user_agent, impl_->options.user_agent);
  if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();

  // A reused connection may have been closed by the server while idle: if it
  // fails before any answer arrives, try once more on a fresh one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> c = attempt == 0 ? impl_->TakeIdle(t.origin_key) : nullptr;
    bool reused = c != nullptr;
    if (!c) {
      FB_ASSIGN_OR_RETURN(c, impl_->Connect(t));
    }
    bool answered = false, keep_alive = false;
    auto r = impl_->Exchange(*c, req, answered, keep_alive);
    if (!r) {
      if (reused && !answered) continue;
      return tl::make_unexpected(r.error().WithContext(std::string(method) + " " + std::string(url)));
    }
    if (keep_alive) impl_->PutIdle(t.origin_key, std::move(c));
    return r;
  }
  return tl::make_unexpected(Unavailable(std::string(method) + " " + std::string(url) + ": failed twice"));
}

}  // namespace firebreak::http
