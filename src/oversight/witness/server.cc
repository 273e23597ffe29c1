// The witness over HTTP: the routes of witness.h behind the shared
// `http::Server` (plain HTTP or TLS without client certificates: the
// protocol authenticates checkpoints by their signatures, not callers).
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>

#include <boost/url/decode_view.hpp>
#include <fmt/format.h>

#include "base/files.h"
#include "http/http.h"
#include "ledger/witness_protocol.h"
#include "oversight/witness/witness.h"

namespace firebreak::oversight::witness {
namespace {

http::Response Reply(int status, std::string content_type, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

http::Response TextReply(int status, std::string body) {
  return Reply(status, "text/plain; charset=utf-8", std::move(body));
}

class Handler final : public http::Handler {
 public:
  Handler(Witness& w, std::string prefix) : witness_(w), prefix_(std::move(prefix)) {}

  void Handle(http::Request request, Respond respond) override {
    http::Response out = Route(request);
    respond([out = std::move(out)]() mutable { return std::move(out); });
  }
  // add-checkpoint waits for the durable update; everything else is quick.
  bool MayBlock(const http::Request& request) const override { return request.method == "POST"; }
  void Undelivered(const std::string&, const std::string&) override {}
  void Count(const std::string&, const std::string&) override {}

 private:
  http::Response Route(const http::Request& req) {
    std::string_view target = req.target;
    if (size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (target.substr(0, prefix_.size()) != prefix_) return TextReply(404, "not found\n");
    target.remove_prefix(prefix_.size());
    if (target == ledger::kAddCheckpointPath) {
      if (req.method != "POST") return MethodNotAllowed("POST");
      Answer a = witness_.AddCheckpoint(req.body);
      return Reply(a.status, a.content_type, std::move(a.body));
    }
    if (target == "/" || target.empty()) {
      if (req.method != "GET") return MethodNotAllowed("GET");
      return TextReply(200, witness_.About());
    }
    constexpr std::string_view kCheckpoint = "/checkpoint/";
    if (target.substr(0, kCheckpoint.size()) == kCheckpoint) {
      if (req.method != "GET") return MethodNotAllowed("GET");
      std::string origin;
      try {
        boost::urls::decode_view decoded(target.substr(kCheckpoint.size()));
        origin.assign(decoded.begin(), decoded.end());
      } catch (const std::exception&) {
        return TextReply(400, "the origin is not validly percent-encoded\n");
      }
      auto latest = witness_.Latest(origin);
      if (!latest) return TextReply(500, "the witness could not read its state\n");
      if (!*latest) return TextReply(404, "no checkpoint of `" + origin + "` has been cosigned here\n");
      return TextReply(200, **latest);
    }
    return TextReply(404, "not found\n");
  }

  static http::Response MethodNotAllowed(const char* allowed) {
    http::Response r = TextReply(405, fmt::format("use {}\n", allowed));
    r.headers.emplace_back("Allow", allowed);
    return r;
  }

  Witness& witness_;
  std::string prefix_;
};

}  // namespace

struct Server::Impl {
  std::unique_ptr<Witness> witness;
  std::unique_ptr<Handler> handler;
  std::unique_ptr<http::Server> server;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(const WitnessConfig& config) {
  auto impl = std::make_unique<Impl>();
  FB_ASSIGN_OR_RETURN(std::string key_text, ReadFile(config.key_file));
  while (!key_text.empty() && (key_text.back() == '\n' || key_text.back() == '\r')) key_text.pop_back();
  auto signer = ledger::CosignatureSigner::FromKeyText(key_text);
  if (!signer) return tl::make_unexpected(signer.error().WithContext(config.key_file));
  Witness::Options wo;
  wo.logs = config.logs;
  wo.state = config.state;
  wo.rate_per_log = config.rate_per_log;
  wo.burst_per_log = config.burst_per_log;
  wo.max_evidence_per_log = config.max_evidence_per_log;
  FB_ASSIGN_OR_RETURN(impl->witness, Witness::Open(std::move(*signer), std::move(wo)));
  impl->handler = std::make_unique<Handler>(*impl->witness, config.prefix);
  http::Server::Options o;
  size_t colon = config.listen.rfind(':');
  o.host = config.listen.substr(0, colon);
  try {
    int port = std::stoi(config.listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    o.port = uint16_t(port);
  } catch (const std::exception&) {
    return tl::make_unexpected(InvalidArgument("listen: `" + config.listen + "` has a bad port"));
  }
  o.tls_cert = config.tls_cert;
  o.tls_key = config.tls_key;
  o.max_body_bytes = config.max_body_bytes;
  o.io_threads = config.io_threads;
  o.worker_threads = config.worker_threads;
  FB_ASSIGN_OR_RETURN(impl->server, http::Server::Start(o, *impl->handler));
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->server->port(); }
Witness& Server::witness() { return *impl_->witness; }

void Server::Wait() {
  impl_->server->OnSignals({SIGINT, SIGTERM}, [this](int) {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
    impl_->cv.notify_all();
  });
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->stop; });
  lock.unlock();
  Stop();
}

void Server::Stop() {
  if (impl_->server) impl_->server->Stop();
}

}  // namespace firebreak::oversight::witness
