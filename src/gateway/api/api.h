// What the gateway's endpoint files (api/*.cc) and service.cc share, beside
// the Service class itself (internal/service.h): one request in flight, and
// the small helpers every answer is built with. Private to the gateway.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "gateway/internal/service.h"
#include "gateway/internal/wire.h"

namespace firebreak::gateway::internal {

// One request in flight: what it asked, who asked, and how to answer.
struct Service::Exchange {
  HttpRequest request;
  Respond respond;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string path, query, route, org_id;
  std::optional<Caller> caller;
  bool outward = false;  // /v1/disclosures
};

inline int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline HttpResponse JsonResponse(int status, const boost::json::value& body) {
  HttpResponse r;
  r.status = status;
  r.body = boost::json::serialize(body);
  r.body += '\n';
  return r;
}

// An answer whose body is JSON text already written (pipeline.h's Render*):
// not a JSON value to serialise.
inline HttpResponse JsonTextResponse(int status, std::string json_text) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(json_text);
  r.body += '\n';
  return r;
}

inline HttpResponse ProblemResponse(const Problem& p) {
  boost::json::object e{{"status", p.status}, {"message", p.message}};
  if (!p.field.empty()) e["field"] = p.field;
  return JsonResponse(p.status, boost::json::object{{"error", std::move(e)}});
}

inline void AccessLog(const boost::json::object& line) {
  std::string s = boost::json::serialize(line);
  s += '\n';
  std::fwrite(s.data(), 1, s.size(), stderr);
}

// A receipt names the entry's index and request id: "<index>-<32 hex>".
inline bool ParseReceiptId(std::string_view id, uint64_t* index, std::string* request_id) {
  size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 19 || id.size() - dash - 1 != 32) return false;
  uint64_t v = 0;
  for (char c : id.substr(0, dash)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  for (char c : id.substr(dash + 1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  *index = v;
  *request_id = std::string(id.substr(dash + 1));
  return true;
}

}  // namespace firebreak::gateway::internal
