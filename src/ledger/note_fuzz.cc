// Fuzz target: what the log reads from outside — signed notes, checkpoints,
// tlog-proof receipts, tile paths, entry bundles and hash tiles. Each is
// parsed or refused; what parses must print back to what parses the same
// (docs/fuzzing.md: the differential properties).
#include <cstdio>
#include <cstdlib>

#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "ledger/tiles.h"

using namespace firebreak::ledger;

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "note_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto note = ParseNote(in)) {
    std::string again = FormatNote(*note);
    auto reparsed = ParseNote(again);
    if (!reparsed || reparsed->text != note->text || reparsed->signatures.size() != note->signatures.size()) {
      Fail("a parsed note does not print back to the same note");
    }
    if (auto cp = ParseCheckpoint(note->text)) {
      auto cp2 = ParseCheckpoint(cp->Text());
      if (!cp2 || cp2->origin != cp->origin || cp2->size != cp->size || cp2->root != cp->root ||
          cp2->extensions != cp->extensions) {
        Fail("a parsed checkpoint does not print back to the same checkpoint");
      }
    }
  }
  if (auto receipt = ParseReceipt(in)) {
    auto again = ParseReceipt(FormatReceipt(*receipt));
    if (!again || again->extra != receipt->extra || again->index != receipt->index ||
        again->inclusion_proof != receipt->inclusion_proof || again->checkpoint != receipt->checkpoint) {
      Fail("a parsed receipt does not print back to the same receipt");
    }
  }
  if (size < 200) {
    if (auto ref = ParseTilePath(in)) (void)ref;
  }
  if (auto bundle = ParseBundle(in)) {
    for (std::string_view e : *bundle) {
      if (e.size() > 65535) Fail("a bundle entry longer than 65,535 bytes");
    }
  }
  if (size > 0) (void)ParseTile(in.substr(1), uint64_t(data[0]) + 1);
  return 0;
}
