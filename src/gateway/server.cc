// The HTTPS front of the gateway: Boost.Beast over Asio with OpenSSL, mutual
// TLS, keep-alive, header and idle timeouts, a body limit. Requests are read
// on the I/O threads, handled on a worker pool (handlers block on the store
// and on the log's durability), and answered back on the connection's strand.
// This is the only file of Firebreak that includes Beast.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <condition_variable>
#include <csignal>
#include <mutex>
#include <array>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include "base/crypto.h"
#include "base/encoding.h"
#include "gateway/gateway.h"
#include "gateway/internal/service.h"

namespace firebreak::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct Gateway::Impl {
  GatewayConfig config;
  std::unique_ptr<internal::Service> service;
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<asio::thread_pool> workers;
  std::optional<asio::signal_set> signals;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  bool stopped = false;
  Status stop_status;

  void Accept();
  void WaitSignal();
  Status StopNow();
};

namespace {

std::string PeerFingerprint(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return "";
  unsigned char* der = nullptr;
  int n = i2d_X509(cert, &der);
  std::string out;
  if (n > 0) {
    out = HexEncode(DigestBytes(Sha256(std::string_view(reinterpret_cast<const char*>(der), size_t(n)))));
  }
  OPENSSL_free(der);
  X509_free(cert);
  return out;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Gateway::Impl& gw) : stream_(std::move(socket), gw.ctx), gw_(gw) {}

  void Run() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::OnRun, shared_from_this()));
  }

 private:
  void OnRun() {
    beast::get_lowest_layer(stream_).expires_after(gw_.config.header_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return;  // bad or missing TLS: nothing to say over plain TCP
    fingerprint_ = PeerFingerprint(stream_.native_handle());
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(gw_.config.max_body_bytes);
    parser_->header_limit(16 * 1024);
    beast::get_lowest_layer(stream_).expires_after(first_ ? gw_.config.header_timeout
                                                          : gw_.config.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return DoClose();
    // For an oversized request the client may still be sending: answer, then
    // read and discard for a while before closing (a lingering close), so the
    // client's kernel does not turn our close into a reset that destroys the
    // answer before the client reads it.
    if (ec == http::error::body_limit) {
      linger_ = true;
      return Reply(413, "the body exceeds " + std::to_string(gw_.config.max_body_bytes) + " bytes", false);
    }
    if (ec == http::error::header_limit) {
      linger_ = true;
      return Reply(431, "the request headers are too large", false);
    }
    if (ec && ec.category() == beast::error_code(http::error::bad_target).category() && ec != http::error::partial_message) {
      return Reply(400, "malformed HTTP request: " + ec.message(), false);
    }
    if (ec) return DoClose();  // timeout, reset, TLS error
    http::request<http::string_body> req = parser_->release();
    internal::HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.authorization = std::string(req[http::field::authorization]);
    r.content_type = std::string(req[http::field::content_type]);
    r.cert_fingerprint = fingerprint_;
    r.body = std::move(req.body());
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    asio::post(*gw_.workers, [self = shared_from_this(), r = std::move(r), keep_alive, version]() mutable {
      internal::HttpResponse out = self->gw_.service->Handle(r);
      asio::post(self->stream_.get_executor(), [self, out = std::move(out), keep_alive, version]() mutable {
        self->Write(std::move(out), keep_alive, version);
      });
    });
  }

  void Reply(int status, const std::string& message, bool keep_alive) {
    internal::HttpResponse out;
    out.status = status;
    out.body = boost::json::serialize(boost::json::object{
                   {"error", boost::json::object{{"status", status}, {"message", message}}}}) + "\n";
    Write(std::move(out), keep_alive, 11);
  }

  void Write(internal::HttpResponse out, bool keep_alive, unsigned version) {
    auto res = std::make_shared<http::response<http::string_body>>(http::status(out.status), version);
    res->set(http::field::server, "firebreak");
    res->set(http::field::content_type, out.content_type);
    for (const auto& [k, v] : out.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    res->body() = std::move(out.body);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(gw_.config.header_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (!keep_alive) return self->linger_ ? self->Drain() : self->DoClose();
                        self->first_ = false;
                        self->DoRead();
                      });
  }

  void DoClose() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  // Reads and discards what the client still sends, for at most 2 seconds and
  // 64 MiB, then closes.
  void Drain() {
    if (!drain_buffer_) {
      drain_buffer_ = std::make_unique<std::array<char, 16384>>();
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    }
    stream_.async_read_some(asio::buffer(*drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > (size_t{64} << 20)) return self->DoClose();
                              self->Drain();
                            });
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  Gateway::Impl& gw_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string fingerprint_;
  bool first_ = true;
  bool linger_ = false;
  std::unique_ptr<std::array<char, 16384>> drain_buffer_;
  size_t drained_ = 0;
};

}  // namespace

void Gateway::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), *this)->Run();
    Accept();
  });
}

void Gateway::Impl::WaitSignal() {
  signals->async_wait([this](beast::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      asio::post(*workers, [this] {
        Status st = service->Reload({});
        std::string line = boost::json::serialize(boost::json::object{
            {"event", "reload"}, {"trigger", "SIGHUP"}, {"ok", bool(st)},
            {"error", st ? "" : st.error().ToString()}});
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stderr);
      });
      WaitSignal();
      return;
    }
    std::lock_guard lock(mu);
    stop_requested = true;
    cv.notify_all();
  });
}

Status Gateway::Impl::StopNow() {
  {
    std::lock_guard lock(mu);
    if (stopped) return stop_status;
    stop_requested = true;
  }
  asio::post(ioc, [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
    if (signals) signals->cancel(ignored);
  });
  // No more reads; handlers already running finish (their entries are
  // durable) but their answers are not sent.
  ioc.stop();
  for (auto& t : threads) t.join();
  threads.clear();
  workers->join();
  Status st = service->Close();
  std::lock_guard lock(mu);
  stopped = true;
  stop_status = st;
  cv.notify_all();
  return st;
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { (void)Stop(); }

Result<std::unique_ptr<Gateway>> Gateway::Start(const GatewayConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  FB_ASSIGN_OR_RETURN(impl->service, internal::Service::Create(config));
  try {
    impl->ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                          ssl::context::single_dh_use);
    impl->ctx.use_certificate_chain_file(config.tls_cert);
    impl->ctx.use_private_key_file(config.tls_key, ssl::context::pem);
    impl->ctx.load_verify_file(config.client_ca);
    // A client certificate is asked for and, if sent, must chain to the CA;
    // bearer tokens are the alternative, so it is not required at the TLS layer.
    impl->ctx.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_session_id_context(impl->ctx.native_handle(),
                                   reinterpret_cast<const unsigned char*>("firebreak"), 9);
    auto address = asio::ip::make_address(config.host);
    tcp::endpoint endpoint(address, config.port);
    impl->acceptor.open(endpoint.protocol());
    impl->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl->acceptor.bind(endpoint);
    impl->acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    (void)impl->service->Close();
    return tl::make_unexpected(InvalidArgument(std::string("starting the HTTPS listener: ") + e.what()));
  }
  impl->workers = std::make_unique<asio::thread_pool>(size_t(config.worker_threads));
  if (config.handle_signals) {
    impl->signals.emplace(impl->ioc, SIGINT, SIGTERM, SIGHUP);
    impl->WaitSignal();
  }
  impl->Accept();
  for (int i = 0; i < config.io_threads; ++i) {
    impl->threads.emplace_back([raw = impl.get()] { raw->ioc.run(); });
  }
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

uint16_t Gateway::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? impl_->config.port : ep.port();
}

Status Gateway::Reload(const std::vector<std::string>& packs) { return impl_->service->Reload(packs); }

void Gateway::Wait() {
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait(lock, [&] { return impl_->stop_requested || impl_->stopped; });
  }
  (void)Stop();
}

Status Gateway::Stop() { return impl_->StopNow(); }

}  // namespace firebreak::gateway
