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

// `--requests`: reads `fd` in chunks of whole lines; the lines of a chunk are
// decided on every core (the engine and the reader are immutable), in groups
// taken in turn so that a core slowed by other work takes fewer, and the
// answers are written in line order. A line is read by RequestReader, which
// gives exactly the reference reader's errors.
int DecideLines(const engine::Engine& engine, int fd, const std::string& name) {
  const engine::RequestReader reader(engine.schema());
  const size_t threads = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  constexpr size_t kChunk = size_t{8} << 20;  // bytes read before deciding
  constexpr size_t kGroup = 256;              // lines a worker takes at once
  std::string buf;
  size_t filled = 0;
  bool eof = false;
  size_t n = 0;  // lines before this chunk
  std::atomic<size_t> bad{0};
  std::vector<std::string_view> lines;
  std::vector<std::string> outs;
  std::atomic<size_t> next_group{0};
  std::vector<engine::Request> requests(threads);

  auto decide_group = [&](size_t g, engine::Request* req) {
    std::string& out = outs[g];
    out.clear();
    for (size_t i = g * kGroup; i < std::min(lines.size(), (g + 1) * kGroup); ++i) {
      std::string_view line = lines[i];
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      if (auto ok = reader.Read(line, req); !ok) {
        ++bad;
        const engine::FieldError& e = ok.error();
        json::object err{{"message", e.message}};
        if (!e.path.empty()) err["field"] = e.path;
        out += json::serialize(json::object{{"line", n + 1 + i}, {"error", std::move(err)}});
      } else {
        engine.AppendJson(engine.Decide(*req), *req, &out);
      }
      out += '\n';
    }
  };
  auto work = [&](size_t t) {
    for (size_t g; (g = next_group.fetch_add(1)) < outs.size();) decide_group(g, &requests[t]);
  };

  while (!eof) {
    // Fill the buffer to a chunk, and past it until it holds a newline.
    for (;;) {
      if (buf.size() < filled + kChunk / 4) buf.resize(std::max(kChunk + kChunk / 4, buf.size() * 2));
      ssize_t got = ::read(fd, buf.data() + filled, buf.size() - filled);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        fmt::print(stderr, "firebreak eval: cannot read {}: {}\n", name, std::strerror(errno));
        return kExitUsage;
      }
      if (got == 0) {
        eof = true;
        break;
      }
      filled += size_t(got);
      if (filled >= kChunk && std::memchr(buf.data() + filled - size_t(got), '\n', size_t(got))) break;
    }
    // The chunk: every complete line (and at the end, the last line even
    // without its newline), split as std::getline splits.
    size_t end = filled;
    if (!eof) {
      const char* last = static_cast<const char*>(::memrchr(buf.data(), '\n', filled));
      end = last ? size_t(last - buf.data()) + 1 : 0;
    }
    lines.clear();
    for (size_t at = 0; at < end;) {
      const char* nl = static_cast<const char*>(std::memchr(buf.data() + at, '\n', end - at));
      size_t stop = nl ? size_t(nl - buf.data()) : end;
      lines.emplace_back(buf.data() + at, stop - at);
      at = stop + 1;
    }
    if (!lines.empty()) {
      outs.resize((lines.size() + kGroup - 1) / kGroup);
      next_group = 0;
      std::vector<std::thread> pool;
      for (size_t t = 1; t < std::min(threads, outs.size()); ++t) pool.emplace_back(work, t);
      work(0);
      for (auto& th : pool) th.join();
      for (size_t g = 0; g < outs.size(); ++g) std::fwrite(outs[g].data(), 1, outs[g].size(), stdout);
      n += lines.size();
    }
    // The incomplete last line goes to the front for the next chunk.
    std::memmove(buf.data(), buf.data() + end, filled - end);
    filled -= end;
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
