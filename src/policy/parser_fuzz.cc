// Fuzz target: the policy language's parser and formatter. Any input must
// parse or be refused with diagnostics (which must render); an input that
// parses must format to text that parses again to the same canonical items,
// and formatting must be idempotent (docs/fuzzing.md).
#include <cstdio>
#include <cstdlib>

#include "policy/policy.h"

using namespace firebreak::policy;

namespace {

[[noreturn]] void Fail(const char* what, const std::string& text) {
  std::fprintf(stderr, "parser_fuzz: %s\n--- text ---\n%s\n", what, text.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  SourceManager sources;
  DiagnosticSink sink;
  Module m = Parse(sources, sources.Add("fuzz.fbp", text), sink);
  if (sink.has_errors()) {
    (void)RenderDiagnostics(sources, sink);
    return 0;
  }
  std::string once = FormatModule(m);
  SourceManager sources2;
  DiagnosticSink sink2;
  Module m2 = Parse(sources2, sources2.Add("formatted.fbp", once), sink2);
  if (sink2.has_errors()) Fail(("formatted text does not parse:\n" + RenderDiagnostics(sources2, sink2)).c_str(), once);
  if (FormatModule(m2) != once) Fail("formatting is not idempotent", once);
  if (m.items.size() != m2.items.size()) Fail("formatting changed the number of items", once);
  for (size_t i = 0; i < m.items.size(); ++i) {
    if (CanonicalItem(m, m.items[i]) != CanonicalItem(m2, m2.items[i])) {
      Fail("formatting changed an item's canonical form (and so the policy hash)", once);
    }
  }
  return 0;
}
