#include "gateway/testing/client.h"

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace firebreak::gateway::testing {

namespace json = boost::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

json::object Reply::Json() const {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return ec || !v.is_object() ? json::object() : v.get_object();
}

struct Client::Impl {
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  std::string error;
  ClientOptions options;

  Reply Read(std::chrono::steady_clock::time_point start) {
    beast::error_code ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(*stream, buffer, parser, ec);
    if (ec) return {-4, ec.message(), std::chrono::steady_clock::now() - start};
    return {int(parser.get().result_int()), parser.get().body(), std::chrono::steady_clock::now() - start};
  }
};

Client::Client(const std::string& dir, uint16_t port, const std::string& org, ClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.options = std::move(options);
  try {
    m.ctx.load_verify_file(dir + "/pki/ca.pem");
    m.ctx.set_verify_mode(ssl::verify_peer);
    if (!org.empty()) {
      m.ctx.use_certificate_chain_file(dir + "/pki/clients/" + org + ".pem");
      m.ctx.use_private_key_file(dir + "/pki/clients/" + org + ".key", ssl::context::pem);
    }
    if (!m.options.tls12_ciphers.empty()) {
      SSL_CTX_set_max_proto_version(m.ctx.native_handle(), TLS1_2_VERSION);
      SSL_CTX_set_cipher_list(m.ctx.native_handle(), m.options.tls12_ciphers.c_str());
    }
  } catch (const std::exception& e) {
    m.error = e.what();
    return;
  }
  m.stream.emplace(m.ioc, m.ctx);
  beast::error_code ec;
  beast::get_lowest_layer(*m.stream).expires_after(std::chrono::seconds(30));
  beast::get_lowest_layer(*m.stream).connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    m.error = "connect: " + ec.message();
    return;
  }
  m.stream->handshake(ssl::stream_base::client, ec);
  if (ec) m.error = "handshake: " + ec.message();
}

Client::~Client() {
  if (impl_->stream && impl_->error.empty()) {
    // Send close_notify without waiting for the server's (it may be gone:
    // synchronous reads have no timeout), then close.
    SSL_shutdown(impl_->stream->native_handle());
    beast::error_code ec;
    beast::get_lowest_layer(*impl_->stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(*impl_->stream).socket().close(ec);
  }
}

const std::string& Client::error() const { return impl_->error; }

Reply Client::Request(const std::string& method, const std::string& target, const std::string& body,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  Impl& m = *impl_;
  if (!m.error.empty()) return {m.error.rfind("connect", 0) == 0 ? -1 : -2, m.error};
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, "localhost");
  if (!m.options.token.empty()) req.set(http::field::authorization, "Bearer " + m.options.token);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST") {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(true);
  req.prepare_payload();
  beast::error_code ec;
  beast::get_lowest_layer(*m.stream).expires_after(std::chrono::seconds(30));
  auto start = std::chrono::steady_clock::now();
  http::write(*m.stream, req, ec);
  if (ec) return {-3, ec.message()};
  return m.Read(start);
}

Reply Client::Raw(const std::string& bytes) {
  Impl& m = *impl_;
  if (!m.error.empty()) return {-2, m.error};
  beast::error_code ec;
  beast::get_lowest_layer(*m.stream).expires_after(std::chrono::seconds(30));
  auto start = std::chrono::steady_clock::now();
  asio::write(*m.stream, asio::buffer(bytes), ec);
  if (ec) return {-3, ec.message()};
  return m.Read(start);
}

Reply Call(const std::string& dir, uint16_t port, const std::string& method, const std::string& target,
           const std::string& body, const std::string& org, const std::string& token) {
  ClientOptions o;
  o.token = token;
  Client c(dir, port, org, o);
  return c.Request(method, target, body);
}

Reply PlainGet(uint16_t port, const std::string& target) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {-1, ec.message()};
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "localhost");
  http::write(stream, req, ec);
  if (ec) return {-3, ec.message()};
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return {-4, ec.message()};
  return {int(res.result_int()), res.body()};
}

std::string Disclosure(const std::string& purpose, const std::string& action,
                       const std::vector<std::string>& cats, const std::string& basis,
                       const std::string& role, const std::string& subject_json) {
  json::object o{{"purpose", purpose}, {"action", action}, {"categories", json::value_from(cats)},
                 {"legal_basis", basis}, {"user_role", role}};
  if (!subject_json.empty()) o["subject"] = json::parse(subject_json);
  return json::serialize(o);
}

std::string Ref(const std::string& reference) {
  return json::serialize(json::object{{"reference", reference}});
}

}  // namespace firebreak::gateway::testing
