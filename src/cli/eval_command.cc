// `firebreak eval`: decide requests in the wire form of DESIGN §2.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>
#include <vector>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "base/files.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "policy/policy.h"

namespace firebreak::cli {
namespace {
namespace json = boost::json;

struct EvalOptions {
  std::vector<std::string> policies;
  std::string request;
  std::string requests;
  bool explain = false;
};

void Explain(const json::object& d) {
  fmt::print(stderr, "decision: {}  (purpose {}{})\n", std::string(d.at("decision").as_string()),
             std::string(d.at("purpose").as_string()),
             d.at("purpose") != d.at("declared_purpose")
                 ? fmt::format(", declared {}", std::string(d.at("declared_purpose").as_string()))
                 : "");
  auto list = [&](const char* key) {
    std::string out;
    for (const auto& v : d.at(key).as_array()) out += (out.empty() ? "" : ", ") + std::string(v.as_string());
    return "[" + out + "]";
  };
  fmt::print(stderr, "  disclosed {}  withheld {}  obligations {}\n", list("disclosed"),
             list("withheld"), list("obligations"));
  const json::array& rules = d.at("rules").as_array();
  const json::array& reasons = d.at("reasons").as_array();
  for (size_t i = 0; i < reasons.size(); ++i) {
    fmt::print(stderr, "  {}{}\n", i < rules.size() ? std::string(rules[i].as_string()) + ": " : "",
               std::string(reasons[i].as_string()));
  }
}

// A chunk of the input: whole lines, split as std::getline splits them.
struct Chunk {
  std::string buf;
  std::vector<std::string_view> lines;
  std::string_view rest;  // the incomplete last line, for the next chunk
  bool eof = false;
};

constexpr size_t kChunk = size_t{2} << 20;  // bytes read before deciding

// Reads into `c` (after `carry`, the previous chunk's incomplete line) at
// least a chunk and up to a newline, or to the end of the input. False on a
// read error (errno set).
bool Fill(int fd, std::string_view carry, Chunk* c) {
  size_t filled = carry.size();
  if (c->buf.size() < filled + kChunk + kChunk / 4) c->buf.resize(filled + kChunk + kChunk / 4);
  if (!carry.empty()) std::memcpy(c->buf.data(), carry.data(), carry.size());  // (no null source)
  for (;;) {
    if (c->buf.size() < filled + kChunk / 4) c->buf.resize(c->buf.size() * 2);
    ssize_t got = ::read(fd, c->buf.data() + filled, c->buf.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return false;
    if (got == 0) {
      c->eof = true;
      break;
    }
    filled += size_t(got);
    if (filled >= kChunk && std::memchr(c->buf.data() + filled - size_t(got), '\n', size_t(got))) break;
  }
  size_t end = filled;
  if (!c->eof) {
    const char* last = static_cast<const char*>(::memrchr(c->buf.data(), '\n', filled));
    end = last ? size_t(last - c->buf.data()) + 1 : 0;
  }
  c->lines.clear();
  for (size_t at = 0; at < end;) {
    const char* nl = static_cast<const char*>(std::memchr(c->buf.data() + at, '\n', end - at));
    size_t stop = nl ? size_t(nl - c->buf.data()) : end;
    c->lines.emplace_back(c->buf.data() + at, stop - at);
    at = stop + 1;
  }
  c->rest = std::string_view(c->buf.data() + end, filled - end);
  return true;
}

// `--requests`: the input is read in chunks of whole lines; a chunk's lines
// are decided on every core (the engine and the reader are immutable), in
// groups taken in turn so that a core slowed by other work takes fewer, while
// the next chunk is read and the previous one's answers are written, in line
// order. A line is read by RequestReader, which gives exactly the reference
// reader's errors.
int DecideLines(const engine::Engine& engine, int fd, const std::string& name) {
  const engine::RequestReader reader(engine.schema());
  const size_t threads = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  constexpr size_t kGroup = 256;  // lines a worker takes at once
  std::atomic<size_t> bad{0};
  std::vector<engine::Request> requests(threads);
  Chunk chunks[2];
  std::vector<std::string> outs[2];
  std::thread writer;
  size_t n = 0;  // lines before the current chunk
  int read_error = 0;

  if (!Fill(fd, {}, &chunks[0])) read_error = errno;
  for (size_t k = 0; !read_error; ++k) {
    Chunk& cur = chunks[k % 2];
    std::vector<std::string>& out = outs[k % 2];
    out.resize((cur.lines.size() + kGroup - 1) / kGroup);
    std::atomic<size_t> next_group{0};
    auto work = [&, first_line = n + 1](engine::Request* req) {
      for (size_t g; (g = next_group.fetch_add(1)) < out.size();) {
        std::string& o = out[g];
        o.clear();
        for (size_t i = g * kGroup; i < std::min(cur.lines.size(), (g + 1) * kGroup); ++i) {
          std::string_view line = cur.lines[i];
          if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
          if (auto ok = reader.Read(line, req); !ok) {
            ++bad;
            const engine::FieldError& e = ok.error();
            json::object err{{"message", e.message}};
            if (!e.path.empty()) err["field"] = e.path;
            o += json::serialize(json::object{{"line", first_line + i}, {"error", std::move(err)}});
          } else {
            engine.AppendJson(engine.Decide(*req), *req, &o);
          }
          o += '\n';
        }
      }
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < std::min(threads, out.size()); ++t) pool.emplace_back(work, &requests[t]);
    // Meanwhile this thread reads the next chunk, then decides with the others.
    bool more = !cur.eof;
    if (more && !Fill(fd, cur.rest, &chunks[(k + 1) % 2])) read_error = errno;
    work(&requests[0]);
    for (auto& th : pool) th.join();
    if (writer.joinable()) writer.join();
    writer = std::thread([&out] {
      for (const std::string& o : out) std::fwrite(o.data(), 1, o.size(), stdout);
    });
    n += cur.lines.size();
    if (!more) break;
  }
  if (writer.joinable()) writer.join();
  std::fflush(stdout);  // the answers before the summary on standard error
  if (read_error) {
    fmt::print(stderr, "firebreak eval: cannot read {}: {}\n", name, std::strerror(read_error));
    return kExitUsage;
  }
  if (bad) fmt::print(stderr, "firebreak eval: {} of {} lines rejected\n", bad.load(), n);
  return bad ? kExitFindings : kExitOk;
}

int Run(const EvalOptions& o) {
  auto loaded = policy::LoadPolicySet(o.policies);
  if (!loaded) {
    fmt::print(stderr, "firebreak eval: {}\n", loaded.error().message());
    return kExitUsage;
  }
  if (!loaded->ok()) {
    fmt::print(stderr, "{}", loaded->Render());
    return kExitUsage;
  }
  auto engine = engine::Engine::Compile(loaded->set);
  if (!o.request.empty()) {
    auto text = o.request == "-" ? Result<std::string>(std::string(std::istreambuf_iterator<char>(std::cin), {}))
                                 : ReadFile(o.request);
    if (!text) {
      fmt::print(stderr, "firebreak eval: {}\n", text.error().message());
      return kExitUsage;
    }
    auto req = engine::ParseRequestText(*text, engine->schema());
    if (!req) {
      fmt::print(stderr, "firebreak eval: {}: {}\n", o.request, req.error().message());
      return kExitFindings;
    }
    json::object d = engine->ToJson(engine->Decide(*req), *req);
    fmt::print("{}\n", json::serialize(d));
    if (o.explain) Explain(d);
    return kExitOk;
  }
  int fd = 0;
  if (o.requests != "-") {
    fd = ::open(o.requests.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fmt::print(stderr, "firebreak eval: cannot open {}\n", o.requests);
      return kExitUsage;
    }
  }
  int rc = DecideLines(*engine, fd, o.requests == "-" ? "standard input" : o.requests);
  if (fd != 0) ::close(fd);
  return rc;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Decide requests (the wire form of DESIGN §2) against a policy set and print decisions "
      "as JSON. With --requests, one JSON request per line in, one decision (or an error object "
      "naming the line and field) per line out.\n"
      "Exit 0: every request decided; 1: some requests rejected; 2: usage, I/O or policy errors.");
  cmd->add_option("--policy", opts->policies, "Pack directory (repeat to combine packs)")
      ->required();
  auto* one = cmd->add_option("--request", opts->request, "A request JSON file (- for stdin)");
  auto* many = cmd->add_option("--requests", opts->requests, "A JSON-lines file of requests (- for stdin)");
  one->excludes(many);
  cmd->add_flag("--explain", opts->explain, "Also explain the decision in words (on stderr)");
  cmd->callback([opts, exit_code, cmd] {
    if (opts->request.empty() && opts->requests.empty()) {
      fmt::print(stderr, "firebreak eval: give --request FILE or --requests FILE.jsonl\n{}",
                 cmd->help());
      *exit_code = kExitUsage;
      return;
    }
    *exit_code = Run(*opts);
  });
}

}  // namespace firebreak::cli
