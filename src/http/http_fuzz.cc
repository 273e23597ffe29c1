// Fuzz target: HTTP itself — Beast's request parser behind the server's own
// limits (header size, body size, chunked bodies refused, malformed
// requests), through the real `http::Server` on loopback (plain HTTP, so
// the bytes reach the parser as they are). Each input is written on a new
// connection, the client half-closes, and everything the server sends back
// is read until it closes.
//
// Properties besides "no crash" (ASan, UBSan): the server answers only
// whole HTTP/1.x responses with a status it is meant to give (200 from the
// handler, 400, 411, 413, 431); a request the handler saw had a body within
// the limit; and the server still answers a well-formed request afterwards.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "http/http.h"

using namespace firebreak::http;

namespace {

constexpr size_t kMaxBody = 1024;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "http_fuzz: %s\n", what.c_str());
  std::abort();
}

class Echo : public Handler {
 public:
  void Handle(Request request, Respond respond) override {
    if (request.body.size() > kMaxBody) Fail("the handler saw a body over the limit");
    respond([n = request.body.size(), m = request.method] {
      Response r;
      r.body = "{\"method_bytes\":" + std::to_string(m.size()) + ",\"body_bytes\":" + std::to_string(n) + "}";
      return r;
    });
  }
  bool MayBlock(const Request&) const override { return false; }
  void Undelivered(const std::string&, const std::string&) override {}
  void Count(const std::string&, const std::string&) override {}
};

uint16_t Port() {
  static Echo handler;
  static std::unique_ptr<Server> server = [] {
    Server::Options o;
    o.port = 0;
    o.max_body_bytes = kMaxBody;
    o.header_timeout = std::chrono::milliseconds(2000);
    o.idle_timeout = std::chrono::milliseconds(2000);
    o.io_threads = 1;
    o.worker_threads = 1;
    auto s = Server::Start(o, handler);
    if (!s) Fail("the server did not start: " + s.error().ToString());
    return std::move(*s);
  }();
  return server->port();
}

// Sends `bytes`, half-closes, and returns what the server sent until it
// closed (or 3 s passed: a hang).
std::string Exchange(std::string_view bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) Fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(Port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // The client half-closes first, so each connection leaves a TIME_WAIT
  // behind for a minute; rotating the source address over 127.0.0.0/8
  // keeps tens of thousands of them from using up one address's ephemeral
  // ports (which, not the server, was what the first runs reported as
  // "does not accept").
  static std::atomic<uint32_t> next{0};
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(0x7F000000u | (2 + next.fetch_add(1) % 250));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) Fail("bind");
  // libFuzzer's timer signal can interrupt a call: a connect interrupted
  // goes on in the background (wait until writable, then read its result).
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (err == EINTR || err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      while (::poll(&p, 1, 3000) < 0 && errno == EINTR) {
      }
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err != 0 && err != EINTR && err != EINPROGRESS) {
      Fail(std::string("the server does not accept: ") + std::strerror(err));
    }
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may close early (413, 431): fine
    sent += size_t(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 3000);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) Fail("the server neither answered nor closed within 3 s");
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

// Every response in `out` is whole, with an expected status.
void CheckResponses(std::string_view out) {
  while (!out.empty()) {
    if (out.substr(0, 9) != "HTTP/1.1 " && out.substr(0, 9) != "HTTP/1.0 ") Fail("not an HTTP response");
    std::string_view code = out.substr(9, 3);
    if (code != "200" && code != "400" && code != "411" && code != "413" && code != "431") {
      Fail("unexpected status " + std::string(code));
    }
    size_t end = out.find("\r\n\r\n");
    if (end == std::string_view::npos) Fail("a response without the end of its headers");
    std::string_view head = out.substr(0, end);
    size_t cl = head.find("Content-Length: ");
    if (cl == std::string_view::npos) Fail("a response without Content-Length");
    size_t len = std::strtoul(std::string(head.substr(cl + 16, 12)).c_str(), nullptr, 10);
    if (out.size() < end + 4 + len) Fail("a truncated response");
    out.remove_prefix(end + 4 + len);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string out = Exchange(std::string_view(reinterpret_cast<const char*>(data), size));
  // HTTP_FUZZ_VERBOSE=1: print the status lines (to see what the seeds reach).
  if (std::getenv("HTTP_FUZZ_VERBOSE")) {
    for (size_t at = out.find("HTTP/1."); at != std::string::npos; at = out.find("HTTP/1.", at + 1)) {
      std::fprintf(stderr, "%s\n", out.substr(at, out.find('\r', at) - at).c_str());
    }
    std::fprintf(stderr, "--\n");
  }
  CheckResponses(out);
  // Still serving.
  std::string ok = Exchange("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  if (ok.substr(0, 12) != "HTTP/1.1 200") Fail("the server stopped answering");
  return 0;
}
