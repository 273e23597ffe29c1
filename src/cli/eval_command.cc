// `firebreak eval`: decide requests in the wire form of DESIGN §2.
#include <cstdio>
#include <fstream>
#include <iostream>

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
  std::string line, out;
  out.reserve(1 << 20);
  size_t n = 0, bad = 0;
  json::parser parser;
  while (std::getline(*in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    boost::system::error_code ec;
    parser.reset();
    parser.write(line, ec);
    Result<engine::Request> req =
        ec ? Result<engine::Request>(tl::make_unexpected(InvalidArgument("malformed JSON: " + ec.message())))
           : engine::ParseRequest(parser.release(), engine->schema());
    if (!req) {
      ++bad;
      const std::string& m = req.error().message();
      size_t colon = m.find(": ");
      bool has_field = colon != std::string::npos && m.rfind("malformed JSON", 0) != 0;
      json::object err{{"message", has_field ? m.substr(colon + 2) : m}};
      if (has_field) err["field"] = m.substr(0, colon);
      out += json::serialize(json::object{{"line", n}, {"error", std::move(err)}});
    } else {
      out += json::serialize(engine->ToJson(engine->Decide(*req), *req));
    }
    out += '\n';
    if (out.size() > (1 << 20) - 4096) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (bad) fmt::print(stderr, "firebreak eval: {} of {} lines rejected\n", bad, n);
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
