// `firebreak eval`: decide requests in the wire form of DESIGN §2.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
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
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.requests != "-") {
    file.open(o.requests);
    if (!file) {
      fmt::print(stderr, "firebreak eval: cannot open {}\n", o.requests);
      return kExitUsage;
    }
    in = &file;
  }
  // Lines are read in batches; each batch is decided by several threads
  // (the engine is immutable), and the answers are written in line order.
  const size_t threads = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  constexpr size_t kBatch = 8192;
  std::vector<std::string> lines;
  lines.reserve(kBatch);
  size_t n = 0;
  std::atomic<size_t> bad{0};
  std::vector<std::string> outs(threads);
  auto decide_slice = [&](size_t t, size_t first_line) {
    json::parser parser;
    std::string& out = outs[t];
    out.clear();
    size_t per = (lines.size() + threads - 1) / threads;
    for (size_t i = t * per; i < std::min(lines.size(), (t + 1) * per); ++i) {
      const std::string& line = lines[i];
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      boost::system::error_code ec;
      // The line's JSON lives in a buffer on the stack (spilling to the heap
      // only for a large line) and goes with it.
      alignas(std::max_align_t) unsigned char scratch[16384];
      json::monotonic_resource arena(scratch, sizeof scratch);
      parser.reset(&arena);
      parser.write(line, ec);
      if (ec) {
        ++bad;
        out += json::serialize(json::object{{"line", first_line + i},
                                            {"error", {{"message", "malformed JSON: " + ec.message()}}}});
      } else {
        auto req = engine::ReadRequest(parser.release(), engine->schema());
        if (!req) {
          ++bad;
          json::object err{{"message", req.error().message}};
          if (!req.error().path.empty()) err["field"] = req.error().path;
          out += json::serialize(json::object{{"line", first_line + i}, {"error", std::move(err)}});
        } else {
          engine->AppendJson(engine->Decide(*req), *req, &out);
        }
      }
      out += '\n';
    }
  };
  auto flush = [&] {
    size_t first_line = n + 1;
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(decide_slice, t, first_line);
    decide_slice(0, first_line);
    for (auto& th : pool) th.join();
    for (const std::string& out : outs) std::fwrite(out.data(), 1, out.size(), stdout);
    n += lines.size();
    lines.clear();
  };
  std::string line;
  while (std::getline(*in, line)) {
    lines.push_back(std::move(line));
    if (lines.size() == kBatch) flush();
  }
  if (!lines.empty()) flush();
  if (bad) fmt::print(stderr, "firebreak eval: {} of {} lines rejected\n", bad.load(), n);
  return bad ? kExitFindings : kExitOk;
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
