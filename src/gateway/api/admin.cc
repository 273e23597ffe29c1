// POST /admin/reload: the holder's admin reloads the policy (the reload
// itself, its checks and its log entry, is Service::Reload in service.cc).
// The tracker's /admin/tracker/* endpoints are in api/reporting.cc.
#include <boost/json.hpp>

#include "gateway/api/api.h"
#include "gateway/internal/service.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;

}  // namespace

HttpResponse Service::AdminReload(const HttpRequest& request, const Caller& caller) {
  std::vector<std::string> packs;
  if (!request.body.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(request.body, ec);
    if (ec || !v.is_object()) return ProblemResponse({400, "", "the body must be a JSON object"});
    for (const auto& kv : v.get_object()) {
      if (kv.key() != "packs") return ProblemResponse({400, std::string(kv.key()), "unknown field"});
      if (!kv.value().is_array()) return ProblemResponse({400, "packs", "must be a list of pack directories"});
      for (const auto& p : kv.value().get_array()) {
        if (!p.is_string()) return ProblemResponse({400, "packs", "must be a list of pack directories"});
        packs.emplace_back(p.get_string());
      }
    }
  }
  Status st = Reload(packs, "api", caller.org);
  std::shared_ptr<const PolicyState> state = policy_.load();
  if (!st) {
    return JsonResponse(422, json::object{{"reloaded", false},
                                          {"error", st.error().ToString()},
                                          {"policy_hash", state->live->policy_hash()},
                                          {"packs", json::value_from(state->packs)}});
  }
  return JsonResponse(200, json::object{{"reloaded", true},
                                        {"policy_hash", state->live->policy_hash()},
                                        {"packs", json::value_from(state->packs)}});
}

}  // namespace firebreak::gateway::internal
