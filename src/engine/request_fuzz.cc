// Fuzz target: the engine's wire-form request reader (the JSON of
// `firebreak eval` and DESIGN §2) against the UK schema. Any input is read
// or refused with a field path; a request that is read must survive
// RequestToJson → ParseRequest unchanged and be decided without failing.
// RequestReader (the one-pass reader of `firebreak eval --requests`) must
// agree with it on every input: the same request, or the same error text.
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
  static const engine::RequestReader reader(e.schema());
  engine::Request fast;
  auto got = reader.Read(text, &fast);
  std::string want_error = r ? "" : r.error().message();
  std::string got_error;
  if (!got) got_error = got.error().path.empty() ? got.error().message : got.error().path + ": " + got.error().message;
  if (got_error != want_error ||
      (r && boost::json::serialize(engine::RequestToJson(fast, e.schema())) !=
                boost::json::serialize(engine::RequestToJson(*r, e.schema())))) {
    std::fprintf(stderr, "request_fuzz: RequestReader disagrees with ParseRequestText\nwant: %s\ngot:  %s\n",
                 want_error.c_str(), got_error.c_str());
    std::abort();
  }
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
