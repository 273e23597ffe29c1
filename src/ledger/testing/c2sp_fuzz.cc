// Fuzz target: the differential between Firebreak's readers of the C2SP
// formats (signed notes, checkpoints, tlog-proof, tile paths) and the
// independent reading of the specifications in c2sp_reference.h. Any input
// one accepts and the other refuses, or reads differently, is a defect of
// one of them.
#include <cstdio>
#include <cstdlib>

#include "ledger/testing/c2sp_differential.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto d = firebreak::ledger::c2sp::FirstDisagreement(in)) {
    std::fprintf(stderr, "c2sp_fuzz: %s\n", d->c_str());
    std::abort();
  }
  return 0;
}
