// Fuzz target: the `.fbt` scenario file reader. Any input is read or refused
// with an error; nothing may crash.
#include "engine/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)firebreak::engine::ParseScenarioText("fuzz.fbt", text);
  return 0;
}
