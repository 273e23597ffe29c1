// The HTTPS front of the gateway: Boost.Beast over Asio with OpenSSL, mutual
// TLS, keep-alive, header and idle timeouts, a body limit. Requests are read
// on the I/O threads, handled on a worker pool (handlers block on the store
// and on the log's durability), and answered back on the connection's strand.
// This is the only file of Firebreak that includes Beast.
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <openssl/x509.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
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
#include <fmt/format.h>

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
  // The connection cap (declared before `ioc`: sessions destroyed with the
  // io_context still count themselves out).
  size_t max_connections = 0, descriptor_limit = 0;
  std::mutex accept_mu;
  size_t connections = 0;      // guarded by accept_mu
  bool accept_paused = false;  // guarded by accept_mu: at the cap, not accepting
  std::atomic<bool> stopping{false};
  static constexpr int kMaxMetricsSessions = 16;
  std::atomic<int> metrics_sessions{0};
  // Connections without a client certificate may hold at most half the cap,
  // so anonymous clients cannot keep the holder's systems out.
  std::atomic<size_t> certless{0};
  std::chrono::milliseconds accept_backoff{0};
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  tcp::acceptor metrics_acceptor{ioc};
  std::optional<asio::steady_timer> accept_timer;
  std::unique_ptr<asio::thread_pool> workers;
  std::optional<asio::signal_set> signals;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  bool stopped = false;
  Status stop_status;

  void Accept();
  void ArmAccept();
  void AcceptMetrics();
  // A connection opened or closed (the cap).
  void Opened();
  void Closed();
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

// The body of a JSON error answer.
std::string ErrorBody(int status, const std::string& message) {
  return boost::json::serialize(boost::json::object{
             {"error", boost::json::object{{"status", status}, {"message", message}}}}) + "\n";
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Gateway::Impl& gw)
      : stream_(std::move(socket), gw.ctx), gw_(gw), timer_(stream_.get_executor()) {}
  ~Session() {
    if (certless_) gw_.certless.fetch_sub(1);
    gw_.Closed();
  }

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
    if (fingerprint_.empty()) {
      certless_ = true;
      if (gw_.certless.fetch_add(1) >= std::max<size_t>(1, gw_.max_connections / 2)) {
        gw_.service->metrics().Count("firebreak_connections_refused_total", "reason=\"no-certificate-share\"");
        return DoClose();
      }
    }
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(gw_.config.max_body_bytes);
    parser_->header_limit(16 * 1024);
    beast::get_lowest_layer(stream_).expires_after(first_ ? gw_.config.header_timeout
                                                          : gw_.config.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  // The header first: a chunked body is refused before any of it is read, so
  // chunk extensions and trailers (unbounded in Beast 1.81) never reach the
  // parser. The API's bodies are small JSON documents with a Content-Length.
  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return OnRead(ec, 0);
    if (parser_->chunked()) {
      linger_ = true;
      return Reply(411, "chunked request bodies are not accepted: send the body with a Content-Length", false);
    }
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
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
    r.arrived = std::chrono::steady_clock::now();
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    // The answer is built on this connection's strand, whichever thread
    // finishes the request (this one, a worker, or the log's sequencer).
    internal::Service::Respond respond = [self = shared_from_this(), keep_alive,
                                          version](std::function<internal::HttpResponse()> make) {
      asio::post(self->stream_.get_executor(), [self, make = std::move(make), keep_alive, version] {
        self->Release(make(), keep_alive, version);
      });
    };
    if (gw_.service->MayBlock(r)) {
      asio::post(*gw_.workers, [self = shared_from_this(), r = std::move(r), respond = std::move(respond)]() mutable {
        self->gw_.service->Handle(std::move(r), std::move(respond));
      });
    } else {
      gw_.service->Handle(std::move(r), std::move(respond));
    }
  }

  // Writes the answer, not before its release time.
  void Release(internal::HttpResponse out, bool keep_alive, unsigned version) {
    if (out.not_before > std::chrono::steady_clock::now()) {
      timer_.expires_at(out.not_before);
      timer_.async_wait([self = shared_from_this(), out = std::move(out), keep_alive, version](
                            beast::error_code) mutable { self->Write(std::move(out), keep_alive, version); });
      return;
    }
    Write(std::move(out), keep_alive, version);
  }

  void Reply(int status, const std::string& message, bool keep_alive) {
    internal::HttpResponse out;
    out.status = status;
    out.body = ErrorBody(status, message);
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
                      [self = shared_from_this(), res, keep_alive, delivers = std::move(out.delivers)](
                          beast::error_code ec, size_t) {
                        if (ec) {
                          // Disclosed data that did not leave: say so in the log.
                          if (!delivers.empty()) {
                            asio::post(*self->gw_.workers, [self, delivers] {
                              self->gw_.service->Undelivered(delivers, "the connection failed while the answer was written");
                            });
                          }
                          return;
                        }
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
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string fingerprint_;
  bool first_ = true;
  bool linger_ = false;
  bool certless_ = false;
  std::unique_ptr<std::array<char, 16384>> drain_buffer_;
  size_t drained_ = 0;
};

// The metrics listener: plain HTTP inside the holder's network, GET
// /metrics only, one request per connection.
class MetricsSession : public std::enable_shared_from_this<MetricsSession> {
 public:
  MetricsSession(tcp::socket&& socket, Gateway::Impl& gw) : stream_(std::move(socket)), gw_(gw) {}
  ~MetricsSession() { gw_.metrics_sessions.fetch_sub(1); }

  void Run() {
    parser_.body_limit(1024);
    parser_.header_limit(8 * 1024);
    stream_.expires_after(gw_.config.header_timeout);
    http::async_read(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      internal::HttpRequest r;
      r.method = std::string(self->parser_.get().method_string());
      r.target = std::string(self->parser_.get().target());
      r.metrics_listener = true;
      self->gw_.service->Handle(std::move(r), [self](std::function<internal::HttpResponse()> make) {
        asio::post(self->stream_.get_executor(), [self, make = std::move(make)]() mutable {
          internal::HttpResponse out = make();
          auto res = std::make_shared<http::response<http::string_body>>(http::status(out.status), 11);
          res->set(http::field::server, "firebreak");
          res->set(http::field::content_type, out.content_type);
          res->keep_alive(false);
          res->body() = std::move(out.body);
          res->prepare_payload();
          http::async_write(self->stream_, *res, [self, res](beast::error_code, size_t) {
            beast::error_code ignored;
            self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
          });
        });
      });
    });
  }

 private:
  beast::tcp_stream stream_;
  Gateway::Impl& gw_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
};

}  // namespace

void Gateway::Impl::Opened() {
  std::lock_guard lock(accept_mu);
  ++connections;
}

void Gateway::Impl::Closed() {
  std::lock_guard lock(accept_mu);
  --connections;
  if (accept_paused && connections < max_connections && !stopping.load()) {
    accept_paused = false;
    asio::post(ioc, [this] { Accept(); });
  }
}

// Accepts again, unless at the connection cap: then the next Closed() does.
void Gateway::Impl::ArmAccept() {
  {
    std::lock_guard lock(accept_mu);
    if (connections >= max_connections) {
      accept_paused = true;
      return;
    }
  }
  Accept();
}

void Gateway::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open() || stopping.load()) return;
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec.value() == EMFILE ||
        ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
      // Out of descriptors (or memory): back off instead of spinning; the
      // connections in the backlog wait.
      service->metrics().Count("firebreak_accept_errors_total", "reason=\"descriptors\"");
      accept_backoff = std::min<std::chrono::milliseconds>(
          std::max<std::chrono::milliseconds>(accept_backoff * 2, std::chrono::milliseconds(10)),
          std::chrono::seconds(1));
      accept_timer->expires_after(accept_backoff);
      accept_timer->async_wait([this](beast::error_code e) {
        if (!e) Accept();
      });
      return;
    }
    accept_backoff = std::chrono::milliseconds(0);
    if (!ec) {
      Opened();
      std::make_shared<Session>(std::move(socket), *this)->Run();
    }
    ArmAccept();
  });
}

void Gateway::Impl::AcceptMetrics() {
  metrics_acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !metrics_acceptor.is_open() || stopping.load()) return;
    if (!ec) {
      // A few scrapers at most; never at the expense of the main listener.
      if (metrics_sessions.fetch_add(1) < kMaxMetricsSessions) {
        std::make_shared<MetricsSession>(std::move(socket), *this)->Run();
      } else {
        metrics_sessions.fetch_sub(1);
      }
    }
    if (ec) {
      // Back off briefly on any error (out of descriptors) rather than spin.
      auto t = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(100));
      t->async_wait([this, t](beast::error_code) { AcceptMetrics(); });
      return;
    }
    AcceptMetrics();
  });
}

void Gateway::Impl::WaitSignal() {
  signals->async_wait([this](beast::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      asio::post(*workers, [this] {
        Status st = service->Reload({}, "SIGHUP");
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
  stopping = true;
  asio::post(ioc, [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
    metrics_acceptor.close(ignored);
    if (accept_timer) accept_timer->cancel();
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
  if (!config.metrics_listen.empty()) {
    // Per-rule counters tell why requests were refused: never outside the
    // holder's own machine unless the configuration says it is a
    // management network.
    std::string host = config.metrics_listen.substr(0, config.metrics_listen.rfind(':'));
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    beast::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) return tl::make_unexpected(InvalidArgument("metrics_listen: `" + host + "` is not an IP address"));
    if (!address.is_loopback() && !config.metrics_remote) {
      return tl::make_unexpected(InvalidArgument(
          "metrics_listen " + config.metrics_listen +
          " is not a loopback address: metrics tell why requests were refused; set \"metrics_remote\": "
          "true only for a management network the holder controls"));
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  // The connection cap, from the descriptor limit read now.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return tl::make_unexpected(IoError(std::string("reading the descriptor limit: ") + std::strerror(errno)));
  }
  impl->descriptor_limit = rl.rlim_cur == RLIM_INFINITY ? size_t(1) << 20 : size_t(rl.rlim_cur);
  if (impl->descriptor_limit <= 2 * kReservedDescriptors) {
    return tl::make_unexpected(FailedPrecondition(fmt::format(
        "the process may open only {} descriptors; the gateway needs more than {} (raise `ulimit -n`)",
        impl->descriptor_limit, 2 * kReservedDescriptors)));
  }
  size_t usable = impl->descriptor_limit - kReservedDescriptors;
  impl->max_connections = config.max_connections ? config.max_connections
                                                 : std::min<size_t>(10000, impl->descriptor_limit / 2);
  if (impl->max_connections > usable) {
    return tl::make_unexpected(InvalidArgument(fmt::format(
        "limits.max_connections {} leaves fewer than {} of the process's {} descriptors for the log and "
        "the store: lower it or raise `ulimit -n`",
        impl->max_connections, kReservedDescriptors, impl->descriptor_limit)));
  }
  FB_ASSIGN_OR_RETURN(impl->service, internal::Service::Create(config));
  try {
    impl->ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                          ssl::context::single_dh_use);
    // TLS 1.2 only with forward secrecy and AEAD (no CBC); TLS 1.3's suites
    // are all AEAD.
    if (SSL_CTX_set_cipher_list(impl->ctx.native_handle(), "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
      throw std::runtime_error("no usable TLS 1.2 cipher suite");
    }
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
    if (!config.metrics_listen.empty()) {
      size_t colon = config.metrics_listen.rfind(':');
      std::string host = config.metrics_listen.substr(0, colon);
      if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
      tcp::endpoint mep(asio::ip::make_address(host), uint16_t(std::stoi(config.metrics_listen.substr(colon + 1))));
      impl->metrics_acceptor.open(mep.protocol());
      impl->metrics_acceptor.set_option(asio::socket_base::reuse_address(true));
      impl->metrics_acceptor.bind(mep);
      impl->metrics_acceptor.listen(64);
    }
  } catch (const std::exception& e) {
    (void)impl->service->Close();
    return tl::make_unexpected(InvalidArgument(std::string("starting the HTTPS listener: ") + e.what()));
  }
  impl->workers = std::make_unique<asio::thread_pool>(size_t(config.worker_threads));
  if (config.handle_signals) {
    impl->signals.emplace(impl->ioc, SIGINT, SIGTERM, SIGHUP);
    impl->WaitSignal();
  }
  impl->accept_timer.emplace(impl->ioc);
  impl->Accept();
  if (impl->metrics_acceptor.is_open()) impl->AcceptMetrics();
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

Status Gateway::Reload(const std::vector<std::string>& packs, const std::string& trigger) {
  return impl_->service->Reload(packs, trigger);
}

uint16_t Gateway::metrics_port() const {
  if (!impl_->metrics_acceptor.is_open()) return 0;
  beast::error_code ec;
  auto ep = impl_->metrics_acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

size_t Gateway::max_connections() const { return impl_->max_connections; }
size_t Gateway::descriptor_limit() const { return impl_->descriptor_limit; }

void Gateway::Wait() {
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait(lock, [&] { return impl_->stop_requested || impl_->stopped; });
  }
  (void)Stop();
}

Status Gateway::Stop() { return impl_->StopNow(); }

}  // namespace firebreak::gateway
