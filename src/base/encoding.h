// Hex and base64 (RFC 4648, standard alphabet with padding) encoding, JSON
// string literals written straight into text, and the project's one UTF-8
// validator.
//
// Decoding rejects anything that is not canonical: wrong length, characters
// outside the alphabet, missing or misplaced padding, non-zero trailing bits.
// Thread model: pure functions, thread-safe.
//
//   std::string b64 = Base64Encode(bytes);
//   FB_ASSIGN_OR_RETURN(std::string raw, Base64Decode(b64));
#pragma once

#include <cstdint>
#include <optional>
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

// UTF-8 as RFC 3629 defines it (Unicode's "well-formed"): no overlong forms,
// no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no sequence cut
// short, no stray continuation byte. U+0000 is valid UTF-8.
//
// The offset of the first byte of the first ill-formed sequence in `text`
// (the lead byte, or the stray byte), or nullopt when all of it is valid.
std::optional<size_t> FindInvalidUtf8(std::string_view text);
inline bool IsValidUtf8(std::string_view text) { return !FindInvalidUtf8(text).has_value(); }

// Ok, or kInvalidArgument "<what> is not valid UTF-8 (byte 0xff at offset 3)".
// Names the byte and where it is, never the text around it (it may be
// personal data).
Status CheckUtf8(std::string_view what, std::string_view text);

}  // namespace firebreak
