#include "engine/scenario.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "base/files.h"
#include "policy/policy.h"

namespace firebreak::engine {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// Drops a ` # comment` from a directive line (JSON lines keep theirs).
std::string StripComment(const std::string& s) {
  size_t pos = s.find(" #");
  return Trim(pos == std::string::npos ? s : s.substr(0, pos));
}

bool StartsWith(const std::string& s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0 &&
         (s.size() == p.size() || s[p.size()] == ' ' || s[p.size()] == '\t');
}

Result<std::set<std::string>> ParseNameList(const std::string& text, const std::string& where) {
  std::string t = Trim(text);
  if (t.size() < 2 || t.front() != '[' || t.back() != ']') {
    return tl::make_unexpected(InvalidArgument(where + ": expected a list such as [a, b]"));
  }
  std::set<std::string> out;
  std::stringstream ss(t.substr(1, t.size() - 2));
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::string v = Trim(item);
    if (!v.empty()) out.insert(v);
  }
  return out;
}

std::string Show(const std::set<std::string>& s) {
  std::string out = "[";
  for (const auto& v : s) out += (out.size() > 1 ? ", " : "") + v;
  return out + "]";
}

std::set<std::string> AsSet(const json::value& v) {
  std::set<std::string> out;
  if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      if (e.is_string()) out.insert(std::string(e.get_string()));
    }
  }
  return out;
}

}  // namespace

void MergeJson(json::value& base, const json::value& patch) {
  if (!patch.is_object() || !base.is_object()) {
    base = patch;
    return;
  }
  json::object& b = base.get_object();
  for (const auto& kv : patch.get_object()) {
    if (kv.value().is_null()) {
      b.erase(kv.key());
    } else if (auto it = b.find(kv.key()); it != b.end() && it->value().is_object() &&
                                           kv.value().is_object()) {
      MergeJson(it->value(), kv.value());
    } else {
      b[kv.key()] = kv.value();
    }
  }
}

Result<std::vector<Scenario>> ParseScenarioFile(const std::string& path) {
  FB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseScenarioText(path, text);
}

Result<std::vector<Scenario>> ParseScenarioText(const std::string& path, const std::string& text) {
  std::vector<std::string> lines;
  {
    std::stringstream ss(text);
    std::string l;
    while (std::getline(ss, l)) lines.push_back(l);
  }
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::vector<std::string> policy_dirs = {dir.lexically_normal().string()};
  std::map<std::string, json::value> defines;
  std::vector<Scenario> out;
  auto err = [&](size_t i, const std::string& m) {
    return tl::make_unexpected(InvalidArgument(fmt::format("{}:{}: {}", path, i + 1, m)));
  };
  auto parse_json = [&](const std::string& body, size_t line) -> Result<json::value> {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) {
      return tl::make_unexpected(
          InvalidArgument(fmt::format("{}:{}: malformed JSON: {}", path, line + 1, ec.message())));
    }
    return v;
  };
  size_t i = 0;
  while (i < lines.size()) {
    std::string line = Trim(lines[i]);
    if (line.empty() || line[0] == '#') {
      ++i;
      continue;
    }
    if (StartsWith(line, "policy")) {
      std::stringstream ss(StripComment(line).substr(6));
      std::string p;
      policy_dirs.clear();
      while (ss >> p) policy_dirs.push_back((dir / p).lexically_normal().string());
      if (policy_dirs.empty()) return err(i, "`policy` needs one or more pack directories");
      ++i;
    } else if (StartsWith(line, "define")) {
      std::string name = StripComment(line).substr(6);
      name = Trim(name);
      if (name.empty()) return err(i, "`define` needs a name");
      size_t start = i++;
      std::string body;
      while (i < lines.size() && !Trim(lines[i]).empty()) body += lines[i++] + "\n";
      FB_ASSIGN_OR_RETURN(json::value v, parse_json(body, start + 1));
      if (!v.is_object()) return err(start, "a `define` must be a JSON object");
      defines[name] = std::move(v);
    } else if (StartsWith(line, "test")) {
      Scenario s;
      s.name = Trim(StripComment(line).substr(4));
      s.file = path;
      s.line = int(i + 1);
      s.policy_dirs = policy_dirs;
      if (s.name.empty()) return err(i, "`test` needs a name");
      ++i;
      if (i >= lines.size() || !StartsWith(Trim(lines[i]), "request")) {
        return err(i, fmt::format("test `{}`: expected a `request` line", s.name));
      }
      size_t req_line = i;
      std::string body = Trim(lines[i]).substr(7);
      ++i;
      while (i < lines.size() && Trim(lines[i]) != "----") {
        if (Trim(lines[i]).empty()) {
          return err(i, fmt::format("test `{}`: expected `----` before the expectations", s.name));
        }
        body += "\n" + lines[i++];
      }
      if (i >= lines.size()) return err(req_line, fmt::format("test `{}` has no `----`", s.name));
      ++i;  // ----
      body = Trim(body);
      if (body.rfind("from", 0) == 0 && (body.size() == 4 || body[4] == ' ' || body[4] == '\n')) {
        std::string rest = Trim(body.substr(4));
        size_t sp = rest.find_first_of(" \t\n{");
        std::string name = sp == std::string::npos ? rest : rest.substr(0, sp);
        auto it = defines.find(name);
        if (it == defines.end()) {
          return err(req_line, fmt::format("unknown request `{}` (define it first)", name));
        }
        s.request = it->second;
        std::string patch = sp == std::string::npos ? "" : Trim(rest.substr(sp));
        if (!patch.empty()) {
          FB_ASSIGN_OR_RETURN(json::value p, parse_json(patch, req_line));
          MergeJson(s.request, p);
        }
      } else {
        FB_ASSIGN_OR_RETURN(s.request, parse_json(body, req_line));
      }
      while (i < lines.size() && !Trim(lines[i]).empty()) {
        std::string e = Trim(lines[i]);
        if (e[0] == '#') {
          ++i;
          continue;
        }
        size_t sp = e.find(' ');
        std::string key = e.substr(0, sp);
        std::string val = sp == std::string::npos ? "" : Trim(e.substr(sp));
        std::string where = fmt::format("{}:{}", path, i + 1);
        if (key == "decision") {
          if (val != "permit" && val != "deny") return err(i, "decision is `permit` or `deny`");
          s.expect.decision = val;
        } else if (key == "disclosed" || key == "withheld" || key == "rules" || key == "obligations") {
          FB_ASSIGN_OR_RETURN(auto list, ParseNameList(val, where));
          (key == "disclosed"  ? s.expect.disclosed
           : key == "withheld" ? s.expect.withheld
           : key == "rules"    ? s.expect.rules
                               : s.expect.obligations) = std::move(list);
        } else if (key == "purpose") {
          s.expect.purpose = val;
        } else if (key == "error") {
          if (val.size() < 2 || val.front() != '"' || val.back() != '"') {
            return err(i, "error expects a quoted text: error \"missing required field\"");
          }
          s.expect.error = val.substr(1, val.size() - 2);
        } else {
          return err(i, fmt::format("unknown expectation `{}` (decision, disclosed, withheld, "
                                    "rules, obligations, purpose, error)",
                                    key));
        }
        ++i;
      }
      out.push_back(std::move(s));
    } else {
      return err(i, fmt::format("expected `policy`, `define` or `test`, found `{}`", line));
    }
  }
  return out;
}

Result<std::vector<std::string>> FindScenarioFiles(const std::string& path) {
  return FindFiles(path, ".fbt");
}

const ScenarioRunner::Loaded& ScenarioRunner::Load(const std::vector<std::string>& dirs) {
  auto it = cache_.find(dirs);
  if (it != cache_.end()) return it->second;
  Loaded l;
  auto loaded = policy::LoadPolicySet(dirs);
  if (!loaded) {
    l.diagnostics = loaded.error().message();
  } else if (!loaded->ok()) {
    l.diagnostics = loaded->Render();
  } else {
    l.engine = Engine::Compile(loaded->set);
  }
  return cache_.emplace(dirs, std::move(l)).first->second;
}

ScenarioResult ScenarioRunner::Run(const Scenario& s) {
  ScenarioResult res;
  const Loaded& l = Load(s.policy_dirs);
  if (!l.engine) {
    res.message = "the policy does not load:\n" + l.diagnostics;
    return res;
  }
  auto req = ParseRequest(s.request, l.engine->schema());
  if (!req) {
    if (s.expect.error) {
      res.passed = req.error().message().find(*s.expect.error) != std::string::npos;
      if (!res.passed) {
        res.message = fmt::format("expected an error containing \"{}\", got: {}", *s.expect.error,
                                  req.error().message());
      }
      return res;
    }
    res.message = "the request was rejected: " + req.error().message();
    return res;
  }
  if (s.expect.error) {
    res.message = fmt::format("expected an error containing \"{}\", but the request was accepted",
                              *s.expect.error);
    return res;
  }
  Decision d = l.engine->Decide(*req);
  json::object o = l.engine->ToJson(d, *req);
  std::vector<std::string> problems;
  if (s.expect.decision && *s.expect.decision != o["decision"].as_string()) {
    problems.push_back(fmt::format("decision: expected {}, got {}", *s.expect.decision,
                                   std::string(o["decision"].as_string())));
  }
  auto check = [&](const char* key, const std::optional<std::set<std::string>>& want) {
    if (!want) return;
    std::set<std::string> got = AsSet(o[key]);
    if (got != *want) problems.push_back(fmt::format("{}: expected {}, got {}", key, Show(*want), Show(got)));
  };
  check("disclosed", s.expect.disclosed);
  check("withheld", s.expect.withheld);
  check("rules", s.expect.rules);
  check("obligations", s.expect.obligations);
  if (s.expect.purpose && *s.expect.purpose != o["purpose"].as_string()) {
    problems.push_back(fmt::format("purpose: expected {}, got {}", *s.expect.purpose,
                                   std::string(o["purpose"].as_string())));
  }
  res.passed = problems.empty();
  for (const std::string& p : problems) res.message += "  " + p + "\n";
  res.decision = std::move(o);
  return res;
}

}  // namespace firebreak::engine
