// The gateway's process: the application (`internal::Service`) behind the
// one HTTPS server of Firebreak (`http::Server`), signals, start and stop.
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>

#include "gateway/gateway.h"
#include "gateway/internal/service.h"
#include "http/http.h"

namespace firebreak::gateway {

struct Gateway::Impl {
  GatewayConfig config;
  std::unique_ptr<internal::Service> service;
  std::unique_ptr<http::Server> server;
  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  bool stopped = false;
  Status stop_status;

  bool stopping = false;  // guarded by mu: a StopNow is under way

  Status StopNow() {
    {
      std::unique_lock lock(mu);
      stop_requested = true;
      cv.notify_all();
      // One caller stops; any other waits for it and gets its status.
      if (stopping || stopped) {
        cv.wait(lock, [&] { return stopped; });
        return stop_status;
      }
      stopping = true;
    }
    // No more reads; handlers already running finish (their entries are
    // durable) but their answers are not sent; then the log is closed.
    server->Stop();
    Status st = service->Close();
    std::lock_guard lock(mu);
    stopped = true;
    stop_status = st;
    cv.notify_all();
    return st;
  }
};

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { (void)Stop(); }

Result<std::unique_ptr<Gateway>> Gateway::Start(const GatewayConfig& config) {
  if (!config.metrics_listen.empty()) {
    // Per-rule counters tell why requests were refused: never outside the
    // holder's own machine unless the configuration says it is a
    // management network.
    std::string host = config.metrics_listen.substr(0, config.metrics_listen.rfind(':'));
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(host, ec);
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
  FB_ASSIGN_OR_RETURN(impl->service, internal::Service::Create(config));
  http::Server::Options o;
  o.host = config.host;
  o.port = config.port;
  o.tls_cert = config.tls_cert;
  o.tls_key = config.tls_key;
  o.client_ca = config.client_ca;
  o.plain_listen = config.metrics_listen;
  o.max_body_bytes = config.max_body_bytes;
  o.header_timeout = config.header_timeout;
  o.idle_timeout = config.idle_timeout;
  o.io_threads = config.io_threads;
  o.worker_threads = config.worker_threads;
  o.max_connections = config.max_connections;
  auto server = http::Server::Start(o, *impl->service);
  if (!server) {
    (void)impl->service->Close();
    return tl::make_unexpected(server.error());
  }
  impl->server = std::move(*server);
  if (config.handle_signals) {
    Impl* raw = impl.get();
    raw->server->OnSignals({SIGINT, SIGTERM, SIGHUP}, [raw](int sig) {
      if (sig == SIGHUP) {
        raw->server->Post([raw] {
          Status st = raw->service->Reload({}, "SIGHUP");
          std::string line = boost::json::serialize(boost::json::object{
              {"event", "reload"}, {"trigger", "SIGHUP"}, {"ok", bool(st)},
              {"error", st ? "" : st.error().ToString()}});
          line += '\n';
          std::fwrite(line.data(), 1, line.size(), stderr);
        });
        return;
      }
      std::lock_guard lock(raw->mu);
      raw->stop_requested = true;
      raw->cv.notify_all();
    });
  }
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

uint16_t Gateway::port() const { return impl_->server->port(); }
uint16_t Gateway::metrics_port() const { return impl_->server->plain_port(); }
size_t Gateway::max_connections() const { return impl_->server->max_connections(); }
size_t Gateway::descriptor_limit() const { return impl_->server->descriptor_limit(); }

Status Gateway::Reload(const std::vector<std::string>& packs, const std::string& trigger) {
  return impl_->service->Reload(packs, trigger);
}

void Gateway::Wait() {
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait(lock, [&] { return impl_->stop_requested || impl_->stopped; });
  }
  (void)Stop();
}

Status Gateway::Stop() { return impl_->StopNow(); }

}  // namespace firebreak::gateway
