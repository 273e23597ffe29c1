// The verifier keys the oversight commands take (`--vkey`, `--witness`,
// `--min-witnesses`): each given inline or as a file holding it.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "ledger/note.h"

namespace firebreak::cli::internal {

struct VerifierKeys {
  ledger::NoteVerifier log;
  std::vector<ledger::NoteVerifier> witnesses;  // type 0x04
};

// Errors name the flag at fault.
Result<VerifierKeys> LoadVerifierKeys(const std::string& vkey, const std::vector<std::string>& witnesses,
                                      size_t min_witnesses);

}  // namespace firebreak::cli::internal
