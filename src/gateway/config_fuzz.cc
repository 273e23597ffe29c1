// Fuzz target: the gateway's JSON configuration (docs/operations.md). Any
// text is read or refused with an error naming the file; nothing may crash,
// and a configuration that is read has its limits inside their documented
// ranges.
#include <cstdio>
#include <cstdlib>

#include "gateway/gateway.h"

using namespace firebreak;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = gateway::ParseConfig(text, "/srv/force/firebreak.json");
  if (!c) {
    if (c.error().message().find("/srv/force/firebreak.json") == std::string::npos &&
        c.error().message().find("unknown key") == std::string::npos) {
      std::fprintf(stderr, "config_fuzz: an error that names no file or key: %s\n", c.error().ToString().c_str());
      std::abort();
    }
    return 0;
  }
  if (c->max_body_bytes < 256 || c->max_body_bytes > (16u << 20) || c->refusal_release.count() < 1 ||
      c->io_threads < 1 || c->worker_threads < 1 || c->policy_packs.empty()) {
    std::fprintf(stderr, "config_fuzz: a limit outside its range was accepted\n");
    std::abort();
  }
  return 0;
}
