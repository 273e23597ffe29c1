// Fuzz target: the engine's wire-form request reader (the JSON of
// `firebreak eval` and DESIGN §2) against the UK schema. Any input is read
// or refused with a field path; a request that is read must survive
// RequestToJson → ParseRequest unchanged and be decided without failing.
#include <cstdio>
#include <cstdlib>

#include <boost/json.hpp>

#include "engine/engine.h"
#include "policy/policy.h"

using namespace firebreak;

namespace {

const engine::Engine& Strict() {
  static std::shared_ptr<const engine::Engine> e = [] {
    auto loaded = policy::LoadPolicySet({std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/strict-firewall"});
    if (!loaded || !loaded->ok()) {
      std::fprintf(stderr, "request_fuzz: cannot load policies/uk/strict-firewall\n");
      std::abort();
    }
    return engine::Engine::Compile(loaded->set);
  }();
  return *e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const engine::Engine& e = Strict();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = engine::ParseRequestText(text, e.schema());
  if (!r) {
    if (r.error().message().empty()) std::abort();
    return 0;
  }
  boost::json::object wire = engine::RequestToJson(*r, e.schema());
  auto again = engine::ParseRequest(wire, e.schema());
  if (!again) {
    std::fprintf(stderr, "request_fuzz: RequestToJson output does not read back: %s\n%s\n",
                 again.error().ToString().c_str(), boost::json::serialize(wire).c_str());
    std::abort();
  }
  if (boost::json::serialize(engine::RequestToJson(*again, e.schema())) != boost::json::serialize(wire)) {
    std::fprintf(stderr, "request_fuzz: the round trip changed the request\n%s\n", boost::json::serialize(wire).c_str());
    std::abort();
  }
  engine::Decision d = e.Decide(*r);
  if (d.permit && (d.disclosed & ~r->categories)) {
    std::fprintf(stderr, "request_fuzz: disclosed a category that was not asked\n");
    std::abort();
  }
  (void)e.ToJson(d, *r);
  return 0;
}
