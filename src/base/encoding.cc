#include "base/encoding.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace firebreak {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::array<int8_t, 256> MakeBase64Table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kBase64Alphabet[i])] = int8_t(i);
  return t;
}
constexpr auto kBase64Table = MakeBase64Table();

}  // namespace

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kHexDigits[b >> 4];
    out[2 * i + 1] = kHexDigits[b & 0xf];
  }
  return out;
}

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return tl::make_unexpected(InvalidArgument("hex: odd length"));
  std::string out;
  out.resize(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return tl::make_unexpected(
          InvalidArgument("hex: invalid character at offset " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1)));
    }
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4, '=');
  char* o = out.data();
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3, o += 4) {
    uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8) | in[i + 2];
    o[0] = kBase64Alphabet[(v >> 18) & 63];
    o[1] = kBase64Alphabet[(v >> 12) & 63];
    o[2] = kBase64Alphabet[(v >> 6) & 63];
    o[3] = kBase64Alphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {  // one or two bytes left: two or three characters, then '=' padding
    uint32_t v = (uint32_t(in[i]) << 16) | (rest == 2 ? uint32_t(in[i + 1]) << 8 : 0);
    o[0] = kBase64Alphabet[(v >> 18) & 63];
    o[1] = kBase64Alphabet[(v >> 12) & 63];
    if (rest == 2) o[2] = kBase64Alphabet[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return tl::make_unexpected(InvalidArgument("base64: length is not a multiple of 4"));
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  // Every quad but the last has no padding: decode them without branches,
  // and fall back to the checking loop below only to name a bad character.
  size_t fast = text.empty() ? 0 : text.size() - 4;
  {
    out.resize(fast / 4 * 3);
    const auto* in = reinterpret_cast<const unsigned char*>(text.data());
    char* o = out.data();
    int bad = 0;
    for (size_t i = 0; i < fast; i += 4) {
      int a = kBase64Table[in[i]], b = kBase64Table[in[i + 1]], c = kBase64Table[in[i + 2]],
          d = kBase64Table[in[i + 3]];
      bad |= a | b | c | d;
      uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
      *o++ = static_cast<char>((v >> 16) & 0xff);
      *o++ = static_cast<char>((v >> 8) & 0xff);
      *o++ = static_cast<char>(v & 0xff);
    }
    if (bad < 0) {
      out.clear();
      fast = 0;
    }
  }
  for (size_t i = fast; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      int d;
      if (c == '=') {
        if (!last || k < 4 - pad) {
          return tl::make_unexpected(InvalidArgument("base64: misplaced padding"));
        }
        d = 0;
      } else {
        d = kBase64Table[static_cast<unsigned char>(c)];
        if (d < 0) {
          return tl::make_unexpected(
              InvalidArgument("base64: invalid character at offset " + std::to_string(i + k)));
        }
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (!last || pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (!last || pad < 1) out += static_cast<char>(v & 0xff);
    if (last && ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))) {
      return tl::make_unexpected(InvalidArgument("base64: non-zero trailing bits"));
    }
  }
  return out;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

// Whether any of the 8 bytes in `w` is below 0x20, '"' or '\\': the
// "has a byte less than n" and "has a zero byte" tests of bit-twiddling
// lore, each exact as a yes/no (not per byte).
bool JsonEscapeIn(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
  uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
  uint64_t zero = ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash);
  return (below_space | (zero & kHigh)) != 0;
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  const char* p = s.data();
  size_t n = s.size(), run = 0;  // s[run, i) is copied when an escape or the end is reached
  for (size_t i = 0; i < n; ++i) {
    // Runs without an escape (most field values) skip 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (JsonEscapeIn(w)) break;
      i += 8;
    }
    if (i == n) break;
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(p + run, i - run);
    run = i + 1;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t len = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = kHexDigits[c >> 4];
        esc[5] = kHexDigits[c & 15];
        len = 6;
    }
    out->append(esc, len);
  }
  out->append(p + run, n - run);
  out->push_back('"');
}

std::optional<size_t> FindInvalidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    // The length of the sequence `b` leads and the range its second byte
    // must fall in (RFC 3629 §4): the narrower ranges after E0, ED, F0 and F4
    // rule out overlong forms, surrogates and code points above U+10FFFF.
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return i;  // a stray continuation byte, C0, C1 (always overlong) or F5..FF
    }
    if (n - i < len) return i;  // cut short
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::nullopt;
}

Status CheckUtf8(std::string_view what, std::string_view text) {
  std::optional<size_t> bad = FindInvalidUtf8(text);
  if (!bad) return Ok();
  const char hex[] = "0123456789abcdef";
  auto b = static_cast<unsigned char>(text[*bad]);
  std::string byte = {'0', 'x', hex[b >> 4], hex[b & 0xF]};
  return tl::make_unexpected(InvalidArgument(std::string(what) + " is not valid UTF-8 (byte " + byte + " at offset " +
                                             std::to_string(*bad) + ")"));
}

}  // namespace firebreak
