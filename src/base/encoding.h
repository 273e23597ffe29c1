// Hex and base64 (RFC 4648, standard alphabet with padding) encoding, and
// JSON string literals written straight into text.
//
// Decoding rejects anything that is not canonical: wrong length, characters
// outside the alphabet, missing or misplaced padding, non-zero trailing bits.
// Thread model: pure functions, thread-safe.
//
//   std::string b64 = Base64Encode(bytes);
//   FB_ASSIGN_OR_RETURN(std::string raw, Base64Decode(b64));
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"

namespace firebreak {

std::string HexEncode(std::string_view bytes);
Result<std::string> HexDecode(std::string_view hex);

std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);

// Text for HTML element content or a quoted attribute: & < > " ' escaped.
std::string HtmlEscape(std::string_view text);

// Appends `s` as a JSON string literal, byte for byte as Boost.JSON's
// serializer writes it (and RFC 8785): '"' and '\\' escaped, \b \f \n \r \t
// in their short forms, every other byte below 0x20 as \u00xx (lower-case
// hex), everything else (UTF-8, or any other byte) as it is. For answers
// written without a JSON tree.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace firebreak
