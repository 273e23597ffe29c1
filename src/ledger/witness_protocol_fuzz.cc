// Fuzz target: what a witness reads from a log (an add-checkpoint body) and
// what a log reads from a witness (cosignature lines, a 409 size). Each is
// parsed or refused; what parses must print back to what parses the same.
#include <cstdio>
#include <cstdlib>

#include "ledger/witness_protocol.h"

using namespace firebreak::ledger;

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "witness_protocol_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto req = ParseAddCheckpoint(in)) {
    if (req->proof.size() > kMaxWitnessProofLines) Fail("more than 63 proof lines accepted");
    auto again = ParseAddCheckpoint(FormatAddCheckpoint(*req));
    if (!again || again->old_size != req->old_size || again->proof != req->proof ||
        again->checkpoint != req->checkpoint) {
      Fail("a parsed request does not print back to the same request");
    }
  }
  if (auto sigs = ParseCosignatures(in)) {
    if (sigs->empty()) Fail("an answer without cosignatures accepted");
    auto again = ParseCosignatures(FormatCosignatures(*sigs));
    if (!again || again->size() != sigs->size()) Fail("parsed cosignatures do not print back the same");
    for (size_t i = 0; i < sigs->size(); ++i) {
      if ((*again)[i].name != (*sigs)[i].name || (*again)[i].key_id != (*sigs)[i].key_id ||
          (*again)[i].signature != (*sigs)[i].signature) {
        Fail("parsed cosignatures do not print back the same");
      }
    }
  }
  if (auto n = ParseTlogSize(in)) {
    if (FormatTlogSize(*n) != in) Fail("a size does not print back byte for byte");
  }
  return 0;
}
