// Fuzz target: reading a decision log entry (entry.h), as `firebreak log
// open` and every auditor's tool does: parse with the version check, then
// open under a fixed audit key. Nothing may crash; a parsed entry must
// print canonically to an entry that parses the same.
#include <cstdio>
#include <cstdlib>

#include "entry/entry.h"

using namespace firebreak;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const entry::Keyring keys = [] {
    auto k = entry::AuditKeyFromHex(std::string(64, '3'));
    return entry::Keyring({*k});
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = entry::Parse(text);
  if (parsed) {
    std::string canonical = entry::CanonicalJson(*parsed);
    auto again = entry::Parse(canonical);
    if (!again || entry::CanonicalJson(*again) != canonical) {
      std::fprintf(stderr, "entry_fuzz: canonical form does not read back the same\n");
      std::abort();
    }
  }
  (void)entry::Open(text, keys);
  return 0;
}
