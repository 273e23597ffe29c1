// The HTTPS server (http.h), moved out of the gateway so that every server
// of Firebreak shares it. Requests are read on the I/O threads; the handler
// answers through `Respond`, whose thunk runs back on the connection's own
// I/O thread (each connection lives on one single-threaded io_context), and
// the answer is written no earlier than its `not_before`.
#include "http/http.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/crypto.h"
#include "base/encoding.h"

namespace firebreak::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct Server::Impl {
  Options options;
  Handler& handler;
  explicit Impl(const Options& o, Handler& h) : options(o), handler(h) {}
  // The connection cap (declared before `ioc`: sessions destroyed with the
  // io_context still count themselves out).
  size_t max_connections = 0, descriptor_limit = 0;
  std::mutex accept_mu;
  size_t connections = 0;      // guarded by accept_mu
  bool accept_paused = false;  // guarded by accept_mu: at the cap, not accepting
  std::atomic<bool> stopping{false};
  static constexpr int kMaxPlainSessions = 16;
  std::atomic<int> plain_sessions{0};
  // Connections without a client certificate may hold at most half the cap,
  // so anonymous clients cannot keep everyone else out.
  std::atomic<size_t> certless{0};
  std::chrono::milliseconds accept_backoff{0};
  // The listeners, the signals and the accept timer live on `ioc`; each
  // connection lives on one context, `ioc` or one of `more`, each run by
  // one I/O thread, so that a connection's handlers never need a strand and
  // what a request allocates is freed on the thread that allocated it.
  // `more` is declared before `ioc`, so it is destroyed after it: an accept
  // still pending on `ioc` holds a socket of one of `more`.
  std::vector<std::unique_ptr<asio::io_context>> more;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> more_work;
  asio::io_context ioc{1};
  size_t next_context = 0;  // round-robin over the contexts; on ioc's thread
  asio::io_context& NextContext() {
    size_t i = next_context++ % (1 + more.size());
    return i == 0 ? ioc : *more[i - 1];
  }
  ssl::context ctx{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  tcp::acceptor plain_acceptor{ioc};
  std::optional<asio::steady_timer> accept_timer;
  std::unique_ptr<asio::thread_pool> workers;
  std::optional<asio::signal_set> signals;
  std::function<void(int)> on_signal;
  std::vector<std::thread> threads;
  std::mutex stop_mu;
  bool stopped = false;

  void Accept();
  void ArmAccept();
  void AcceptPlain();
  // A connection opened or closed (the cap).
  void Opened();
  void Closed();
  void WaitSignal();
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

// One connection of the main listener: TLS (`TlsStream`) or, for a server
// started without a certificate, plain HTTP (`PlainStream`).
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using PlainStream = beast::tcp_stream;

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

 public:
  Session(tcp::socket&& socket, Server::Impl& gw)
      : stream_(MakeStream(std::move(socket), gw)), gw_(gw), timer_(stream_.get_executor()) {}
  ~Session() {
    if (certless_) gw_.certless.fetch_sub(1);
    gw_.Closed();
  }

  void Run() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::OnRun, shared_from_this()));
  }

 private:
  static Stream MakeStream(tcp::socket&& socket, Server::Impl& gw) {
    if constexpr (kTls) {
      return Stream(std::move(socket), gw.ctx);
    } else {
      return Stream(std::move(socket));
    }
  }

  void OnRun() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(gw_.options.header_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
    } else {
      DoRead();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return;  // bad or missing TLS: nothing to say over plain TCP
    if constexpr (kTls) fingerprint_ = PeerFingerprint(stream_.native_handle());
    // Without a client CA no certificates are asked for: no share to keep.
    if (fingerprint_.empty() && !gw_.options.client_ca.empty()) {
      certless_ = true;
      if (gw_.certless.fetch_add(1) >= std::max<size_t>(1, gw_.max_connections / 2)) {
        gw_.handler.Count("firebreak_connections_refused_total", "reason=\"no-certificate-share\"");
        return DoClose();
      }
    }
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(gw_.options.max_body_bytes);
    parser_->header_limit(16 * 1024);
    beast::get_lowest_layer(stream_).expires_after(first_ ? gw_.options.header_timeout
                                                          : gw_.options.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
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
    bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == bhttp::error::end_of_stream) return DoClose();
    // For an oversized request the client may still be sending: answer, then
    // read and discard for a while before closing (a lingering close), so the
    // client's kernel does not turn our close into a reset that destroys the
    // answer before the client reads it.
    if (ec == bhttp::error::body_limit) {
      linger_ = true;
      return Reply(413, "the body exceeds " + std::to_string(gw_.options.max_body_bytes) + " bytes", false);
    }
    if (ec == bhttp::error::header_limit) {
      linger_ = true;
      return Reply(431, "the request headers are too large", false);
    }
    if (ec && ec.category() == beast::error_code(bhttp::error::bad_target).category() && ec != bhttp::error::partial_message) {
      return Reply(400, "malformed HTTP request: " + ec.message(), false);
    }
    if (ec) return DoClose();  // timeout, reset, TLS error
    bhttp::request<bhttp::string_body> req = parser_->release();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.authorization = std::string(req[bhttp::field::authorization]);
    r.content_type = std::string(req[bhttp::field::content_type]);
    r.tracker_token = std::string(req["Firebreak-Tracker-Token"]);
    r.cert_fingerprint = fingerprint_;
    r.body = std::move(req.body());
    r.arrived = std::chrono::steady_clock::now();
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    // The answer is built on this connection's I/O thread, whichever thread
    // finishes the request (this one, a worker, or the log's sequencer).
    auto once = std::make_shared<std::atomic<bool>>(false);
    Handler::Respond respond = [self = shared_from_this(), keep_alive, version,
                                once](std::function<Response()> make) {
      if (once->exchange(true)) return;  // one answer per request, whatever the handler does
      asio::post(self->stream_.get_executor(), [self, make = std::move(make), keep_alive, version] {
        self->Release(make(), keep_alive, version);
      });
    };
    if (gw_.handler.MayBlock(r)) {
      asio::post(*gw_.workers, [self = shared_from_this(), r = std::move(r), respond = std::move(respond)]() mutable {
        self->gw_.handler.Handle(std::move(r), std::move(respond));
      });
    } else {
      gw_.handler.Handle(std::move(r), std::move(respond));
    }
  }

  // Writes the answer, not before its release time.
  void Release(Response out, bool keep_alive, unsigned version) {
    if (out.not_before > std::chrono::steady_clock::now()) {
      timer_.expires_at(out.not_before);
      timer_.async_wait([self = shared_from_this(), out = std::move(out), keep_alive, version](
                            beast::error_code) mutable { self->Write(std::move(out), keep_alive, version); });
      return;
    }
    Write(std::move(out), keep_alive, version);
  }

  void Reply(int status, const std::string& message, bool keep_alive) {
    Response out;
    out.status = status;
    out.body = ErrorBody(status, message);
    Write(std::move(out), keep_alive, 11);
  }

  void Write(Response out, bool keep_alive, unsigned version) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(bhttp::status(out.status), version);
    res->set(bhttp::field::server, "firebreak");
    res->set(bhttp::field::content_type, out.content_type);
    for (const auto& [k, v] : out.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    res->body() = std::move(out.body);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(gw_.options.header_timeout);
    bhttp::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive, delivers = std::move(out.delivers)](
                          beast::error_code ec, size_t) {
                        if (ec) {
                          // Disclosed data that did not leave: say so in the log.
                          if (!delivers.empty()) {
                            asio::post(*self->gw_.workers, [self, delivers] {
                              self->gw_.handler.Undelivered(delivers, "the connection failed while the answer was written");
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
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
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

  Stream stream_;
  Server::Impl& gw_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string fingerprint_;
  bool first_ = true;
  bool linger_ = false;
  bool certless_ = false;
  std::unique_ptr<std::array<char, 16384>> drain_buffer_;
  size_t drained_ = 0;
};

// The metrics listener: plain HTTP inside the holder's network, GET
// /metrics only, one request per connection.
class PlainSession : public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(tcp::socket&& socket, Server::Impl& gw) : stream_(std::move(socket)), gw_(gw) {}
  ~PlainSession() { gw_.plain_sessions.fetch_sub(1); }

  void Run() {
    parser_.body_limit(1024);
    parser_.header_limit(8 * 1024);
    stream_.expires_after(gw_.options.header_timeout);
    bhttp::async_read(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      Request r;
      r.method = std::string(self->parser_.get().method_string());
      r.target = std::string(self->parser_.get().target());
      r.plain_listener = true;
      self->gw_.handler.Handle(std::move(r), [self](std::function<Response()> make) {
        asio::post(self->stream_.get_executor(), [self, make = std::move(make)]() mutable {
          Response out = make();
          auto res = std::make_shared<bhttp::response<bhttp::string_body>>(bhttp::status(out.status), 11);
          res->set(bhttp::field::server, "firebreak");
          res->set(bhttp::field::content_type, out.content_type);
          res->keep_alive(false);
          res->body() = std::move(out.body);
          res->prepare_payload();
          bhttp::async_write(self->stream_, *res, [self, res](beast::error_code, size_t) {
            beast::error_code ignored;
            self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
          });
        });
      });
    });
  }

 private:
  beast::tcp_stream stream_;
  Server::Impl& gw_;
  beast::flat_buffer buffer_;
  bhttp::request_parser<bhttp::empty_body> parser_;
};

}  // namespace

void Server::Impl::Opened() {
  std::lock_guard lock(accept_mu);
  ++connections;
}

void Server::Impl::Closed() {
  std::lock_guard lock(accept_mu);
  --connections;
  if (accept_paused && connections < max_connections && !stopping.load()) {
    accept_paused = false;
    asio::post(ioc, [this] { Accept(); });
  }
}

// Accepts again, unless at the connection cap: then the next Closed() does.
void Server::Impl::ArmAccept() {
  {
    std::lock_guard lock(accept_mu);
    if (connections >= max_connections) {
      accept_paused = true;
      return;
    }
  }
  Accept();
}

void Server::Impl::Accept() {
  acceptor.async_accept(NextContext().get_executor(), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open() || stopping.load()) return;
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec.value() == EMFILE ||
        ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
      // Out of descriptors (or memory): back off instead of spinning; the
      // connections in the backlog wait.
      handler.Count("firebreak_accept_errors_total", "reason=\"descriptors\"");
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
      if (options.tls_cert.empty()) {
        std::make_shared<Session<PlainStream>>(std::move(socket), *this)->Run();
      } else {
        std::make_shared<Session<TlsStream>>(std::move(socket), *this)->Run();
      }
    }
    ArmAccept();
  });
}

void Server::Impl::AcceptPlain() {
  plain_acceptor.async_accept(ioc.get_executor(), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !plain_acceptor.is_open() || stopping.load()) return;
    if (!ec) {
      // A few scrapers at most; never at the expense of the main listener.
      if (plain_sessions.fetch_add(1) < kMaxPlainSessions) {
        std::make_shared<PlainSession>(std::move(socket), *this)->Run();
      } else {
        plain_sessions.fetch_sub(1);
      }
    }
    if (ec) {
      // Back off briefly on any error (out of descriptors) rather than spin.
      auto t = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(100));
      t->async_wait([this, t](beast::error_code) { AcceptPlain(); });
      return;
    }
    AcceptPlain();
  });
}

void Server::Impl::WaitSignal() {
  signals->async_wait([this](beast::error_code ec, int sig) {
    if (ec) return;
    on_signal(sig);
    WaitSignal();
  });
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

void Server::Stop() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.stop_mu);
    if (m.stopped) return;
    m.stopped = true;
  }
  m.stopping = true;
  // No more reads; handlers already running finish but their answers are
  // not sent.
  m.ioc.stop();
  for (auto& c : m.more) c->stop();
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  // No I/O thread runs now: close the listeners (new connections are
  // refused, not left in the backlog) and give the signals back.
  beast::error_code ignored;
  m.acceptor.close(ignored);
  m.plain_acceptor.close(ignored);
  if (m.accept_timer) m.accept_timer->cancel();
  if (m.signals) m.signals->cancel(ignored);
  m.workers->join();
}

void Server::Post(std::function<void()> fn) { asio::post(*impl_->workers, std::move(fn)); }

void Server::OnSignals(std::vector<int> signals, std::function<void(int)> on_signal) {
  Impl& m = *impl_;
  m.on_signal = std::move(on_signal);
  m.signals.emplace(m.ioc);
  for (int s : signals) m.signals->add(s);
  asio::post(m.ioc, [&m] { m.WaitSignal(); });
}

namespace {

Result<tcp::endpoint> Endpoint(const std::string& host_in, uint16_t port) {
  std::string host = host_in;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return tl::make_unexpected(InvalidArgument("`" + host + "` is not an IP address"));
  return tcp::endpoint(address, port);
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(const Options& options, Handler& handler) {
  auto impl = std::make_unique<Impl>(options, handler);
  // The connection cap, from the descriptor limit read now.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return tl::make_unexpected(IoError(std::string("reading the descriptor limit: ") + std::strerror(errno)));
  }
  impl->descriptor_limit = rl.rlim_cur == RLIM_INFINITY ? size_t(1) << 20 : size_t(rl.rlim_cur);
  if (impl->descriptor_limit <= 2 * kReservedDescriptors) {
    return tl::make_unexpected(FailedPrecondition(fmt::format(
        "the process may open only {} descriptors; the server needs more than {} (raise `ulimit -n`)",
        impl->descriptor_limit, 2 * kReservedDescriptors)));
  }
  size_t usable = impl->descriptor_limit - kReservedDescriptors;
  impl->max_connections = options.max_connections ? options.max_connections
                                                  : std::min<size_t>(10000, impl->descriptor_limit / 2);
  if (impl->max_connections > usable) {
    return tl::make_unexpected(InvalidArgument(fmt::format(
        "limits.max_connections {} leaves fewer than {} of the process's {} descriptors for the log and "
        "the store: lower it or raise `ulimit -n`",
        impl->max_connections, kReservedDescriptors, impl->descriptor_limit)));
  }
  FB_ASSIGN_OR_RETURN(tcp::endpoint endpoint, Endpoint(options.host, options.port));
  std::optional<tcp::endpoint> plain;
  if (!options.plain_listen.empty()) {
    size_t colon = options.plain_listen.rfind(':');
    FB_ASSIGN_OR_RETURN(plain, Endpoint(options.plain_listen.substr(0, colon),
                                        uint16_t(std::stoi(options.plain_listen.substr(colon + 1)))));
  }
  try {
    impl->ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                          ssl::context::single_dh_use);
    // TLS 1.2 only with forward secrecy and AEAD (no CBC); TLS 1.3's suites
    // are all AEAD.
    if (SSL_CTX_set_cipher_list(impl->ctx.native_handle(), "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
      throw std::runtime_error("no usable TLS 1.2 cipher suite");
    }
    if (!options.tls_cert.empty()) {
      impl->ctx.use_certificate_chain_file(options.tls_cert);
      impl->ctx.use_private_key_file(options.tls_key, ssl::context::pem);
    } else if (!options.client_ca.empty()) {
      throw std::runtime_error("a client CA needs TLS: set the server's certificate too");
    }
    if (!options.client_ca.empty()) {
      impl->ctx.load_verify_file(options.client_ca);
      // A client certificate is asked for and, if sent, must chain to the
      // CA; bearer tokens are the alternative, so it is not required at the
      // TLS layer.
      impl->ctx.set_verify_mode(ssl::verify_peer);
    } else {
      // A public server (the witness): no client certificate is asked for.
      impl->ctx.set_verify_mode(ssl::verify_none);
    }
    SSL_CTX_set_session_id_context(impl->ctx.native_handle(),
                                   reinterpret_cast<const unsigned char*>("firebreak"), 9);
    impl->acceptor.open(endpoint.protocol());
    impl->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl->acceptor.bind(endpoint);
    impl->acceptor.listen(asio::socket_base::max_listen_connections);
    if (plain) {
      impl->plain_acceptor.open(plain->protocol());
      impl->plain_acceptor.set_option(asio::socket_base::reuse_address(true));
      impl->plain_acceptor.bind(*plain);
      impl->plain_acceptor.listen(64);
    }
  } catch (const std::exception& e) {
    return tl::make_unexpected(InvalidArgument(std::string("starting the HTTPS listener: ") + e.what()));
  }
  impl->workers = std::make_unique<asio::thread_pool>(size_t(options.worker_threads));
  impl->accept_timer.emplace(impl->ioc);
  impl->Accept();
  if (impl->plain_acceptor.is_open()) impl->AcceptPlain();
  for (int i = 1; i < options.io_threads; ++i) {
    impl->more.push_back(std::make_unique<asio::io_context>(1));
    impl->more_work.push_back(asio::make_work_guard(*impl->more.back()));
  }
  impl->threads.emplace_back([raw = impl.get()] { raw->ioc.run(); });
  for (auto& c : impl->more) impl->threads.emplace_back([c = c.get()] { c->run(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? impl_->options.port : ep.port();
}

uint16_t Server::plain_port() const {
  if (!impl_->plain_acceptor.is_open()) return 0;
  beast::error_code ec;
  auto ep = impl_->plain_acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

size_t Server::max_connections() const { return impl_->max_connections; }
size_t Server::descriptor_limit() const { return impl_->descriptor_limit; }

}  // namespace firebreak::http
