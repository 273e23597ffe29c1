// The differential between Firebreak's parsers of the C2SP formats and the
// independent reading in c2sp_reference.h: both must accept exactly the
// same inputs and read the same fields from them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace firebreak::ledger::c2sp {

// Runs `input` through ParseNote, ParseCheckpoint (on the input, and on a
// note's text), ParseReceipt and ParseTilePath, and through the reference
// readers; nullopt when they agree, else one sentence naming the format and
// the disagreement.
std::optional<std::string> FirstDisagreement(std::string_view input);

}  // namespace firebreak::ledger::c2sp
