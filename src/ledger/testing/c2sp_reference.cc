#include "ledger/testing/c2sp_reference.h"

namespace firebreak::ledger::c2sp {
namespace {

// ---- Building blocks, written for this file only --------------------------

// Decodes UTF-8 into code points; nullopt on any ill-formed sequence
// (overlong forms, surrogates, values above U+10FFFF, truncation), as
// "valid UTF-8" means in RFC 3629.
std::optional<std::vector<char32_t>> DecodeUtf8(std::string_view s) {
  std::vector<char32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char b0 = static_cast<unsigned char>(s[i]);
    int extra;
    char32_t cp, min;
    if (b0 <= 0x7F) {
      out.push_back(b0);
      ++i;
      continue;
    } else if (b0 >= 0xC0 && b0 <= 0xDF) {
      extra = 1, cp = b0 & 0x1F, min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      extra = 2, cp = b0 & 0x0F, min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF7) {
      extra = 3, cp = b0 & 0x07, min = 0x10000;
    } else {
      return std::nullopt;
    }
    if (i + extra >= s.size()) return std::nullopt;  // truncated
    for (int k = 1; k <= extra; ++k) {
      unsigned char b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back(cp);
    i += extra + 1;
  }
  return out;
}

// Unicode's White_Space property (what "Unicode spaces" means).
bool IsUnicodeSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// RFC 4648 §4, standard alphabet with padding, canonical: the length is a
// multiple of four, '=' only as the last one or two characters, and the
// bits the padding leaves over are zero (so one byte string has exactly one
// spelling).
std::optional<std::string> DecodeBase64(std::string_view s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t q = 0; q < s.size(); q += 4) {
    bool last = q + 4 == s.size();
    int pads = 0;
    if (last && s[q + 3] == '=') pads = s[q + 2] == '=' ? 2 : 1;
    int v[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4 - pads; ++k) {
      v[k] = value(s[q + k]);
      if (v[k] < 0) return std::nullopt;
    }
    uint32_t n = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    if (pads == 2 && (n & 0xFFFF) != 0) return std::nullopt;
    if (pads == 1 && (n & 0xFF) != 0) return std::nullopt;
    out.push_back(char(n >> 16));
    if (pads < 2) out.push_back(char((n >> 8) & 0xFF));
    if (pads < 1) out.push_back(char(n & 0xFF));
  }
  return out;
}

// "ASCII decimal ... with no leading zeroes (unless the number is 0)";
// here also: it fits in 64 bits.
std::optional<uint64_t> DecodeDecimal(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Lines of `s`, which must end in "\n": the pieces between newlines.
std::optional<std::vector<std::string>> LinesEndingInNewline(std::string_view s) {
  if (s.empty() || s.back() != '\n') return std::nullopt;
  std::vector<std::string> lines;
  std::string current;
  for (char c : s) {
    if (c == '\n') {
      lines.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  return lines;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// ---- c2sp.org/signed-note ---------------------------------------------------

std::optional<SignedNote> ReadSignedNote(std::string_view bytes) {
  // "Signed notes MUST be valid UTF-8 and MUST NOT contain any ASCII control
  // characters (those below U+0020) other than newline."
  auto cps = DecodeUtf8(bytes);
  if (!cps) return std::nullopt;
  for (char32_t c : *cps) {
    if (c < 0x20 && c != '\n') return std::nullopt;
  }
  // "a text ending in newline (U+000A), followed by a blank line (only a
  // newline), followed by one or more signature lines"; "the text is
  // separated from the signatures by the last empty line in the note."
  auto lines = LinesEndingInNewline(bytes);
  if (!lines) return std::nullopt;
  std::optional<size_t> blank;
  for (size_t i = 0; i < lines->size(); ++i) {
    if ((*lines)[i].empty()) blank = i;
  }
  if (!blank || *blank == 0 || *blank + 1 == lines->size()) return std::nullopt;
  SignedNote note;
  for (size_t i = 0; i < *blank; ++i) note.text += (*lines)[i] + "\n";
  const std::string dash = "\xE2\x80\x94 ";  // em dash (U+2014), space
  for (size_t i = *blank + 1; i < lines->size(); ++i) {
    // "em dash (U+2014), space (U+0020), key name, space, base64-encoded
    // signature, newline."
    const std::string& line = (*lines)[i];
    if (!StartsWith(line, dash)) return std::nullopt;
    std::string rest = line.substr(dash.size());
    size_t space = rest.find(' ');
    if (space == std::string::npos) return std::nullopt;
    SignatureLine sig;
    sig.key_name = rest.substr(0, space);
    // "Key names MUST be non-empty and MUST NOT contain any Unicode spaces
    // or plus (U+002B) characters."
    auto name = DecodeUtf8(sig.key_name);
    if (!name || name->empty()) return std::nullopt;
    for (char32_t c : *name) {
      if (IsUnicodeSpace(c) || c == U'+') return std::nullopt;
    }
    // "Signatures are the base64 encoding of 4+n bytes. The first four bytes
    // in the signature are the uint32 key ID stored in big-endian order."
    auto raw = DecodeBase64(rest.substr(space + 1));
    if (!raw || raw->size() < 4) return std::nullopt;
    for (int k = 0; k < 4; ++k) sig.key_id = (sig.key_id << 8) | static_cast<unsigned char>((*raw)[k]);
    sig.signature = raw->substr(4);
    note.signatures.push_back(std::move(sig));
  }
  if (note.signatures.size() > kMaxSignatures) return std::nullopt;
  return note;
}

// ---- c2sp.org/tlog-checkpoint -----------------------------------------------

std::optional<CheckpointBody> ReadCheckpointBody(std::string_view text) {
  // "a sequence of at least three non-empty lines, separated by newlines"
  // (a note's text ends in a newline).
  auto lines = LinesEndingInNewline(text);
  if (!lines || lines->size() < 3) return std::nullopt;
  for (const std::string& l : *lines) {
    if (l.empty()) return std::nullopt;  // "Extension lines, if any, MUST be non-empty."
  }
  CheckpointBody cp;
  cp.origin = (*lines)[0];  // "The origin MUST be non-empty"
  auto size = DecodeDecimal((*lines)[1]);
  if (!size) return std::nullopt;
  cp.tree_size = *size;
  auto root = DecodeBase64((*lines)[2]);  // "the base64 encoding of the root of the … tree"
  if (!root || root->size() != 32) return std::nullopt;
  cp.root_hash = *root;
  cp.extension_lines.assign(lines->begin() + 3, lines->end());
  return cp;
}

// ---- c2sp.org/tlog-proof ----------------------------------------------------

std::optional<TlogProof> ReadTlogProof(std::string_view bytes) {
  // "a sequence of lines separated by newlines"; the checkpoint, after the
  // proof and an empty line, runs to the end and is itself a signed note.
  std::vector<std::string_view> head;
  std::string_view rest = bytes;
  for (;;) {
    size_t eol = rest.find('\n');
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view line = rest.substr(0, eol);
    rest = rest.substr(eol + 1);
    if (line.empty()) break;
    head.push_back(line);
  }
  size_t at = 0;
  // "The first line MUST be the string `c2sp.org/tlog-proof@v1`."
  if (at >= head.size() || head[at++] != "c2sp.org/tlog-proof@v1") return std::nullopt;
  TlogProof proof;
  // "The second line MAY start with the string `extra` followed by a space
  // and base64-encoded opaque extra data."
  if (at < head.size() && StartsWith(head[at], "extra ")) {
    auto extra = DecodeBase64(head[at].substr(6));
    if (!extra) return std::nullopt;
    proof.extra = *extra;
    ++at;
  }
  // "The next line MUST start with the string `index` followed by a space
  // and the zero-based index … with no leading zeroes".
  if (at >= head.size() || !StartsWith(head[at], "index ")) return std::nullopt;
  auto index = DecodeDecimal(head[at++].substr(6));
  if (!index) return std::nullopt;
  proof.index = *index;
  // "The next zero or more non-empty lines are the base64-encoded Merkle
  // inclusion proof …, one SHA-256 hash per line".
  for (; at < head.size(); ++at) {
    auto h = DecodeBase64(head[at]);
    if (!h || h->size() != 32) return std::nullopt;
    proof.proof.push_back(*h);
  }
  // "the checkpoint issued by the log is included verbatim, according to
  // tlog-checkpoint".
  auto note = ReadSignedNote(rest);
  if (!note || !ReadCheckpointBody(note->text)) return std::nullopt;
  proof.checkpoint = std::string(rest);
  return proof;
}

// ---- c2sp.org/tlog-tiles paths ----------------------------------------------

std::optional<TilePath> ReadTilePath(std::string_view path) {
  // <prefix>/tile/<L>/<N>[.p/<W>] and <prefix>/tile/entries/<N>[.p/<W>]
  if (!StartsWith(path, "tile/")) return std::nullopt;
  std::vector<std::string> parts;
  std::string current;
  for (char c : path.substr(5)) {
    if (c == '/') {
      parts.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  parts.push_back(current);
  if (parts.size() < 2) return std::nullopt;
  TilePath t;
  if (parts[0] == "entries") {
    t.entries = true;
  } else {
    // "<L> … MUST be a decimal ASCII integer between 0 and 63, with no
    // additional leading zeroes" (Firebreak: at most kMaxTileLevel).
    auto level = DecodeDecimal(parts[0]);
    if (!level || *level > 63 || *level > uint64_t(kMaxTileLevel)) return std::nullopt;
    t.level = int(*level);
  }
  std::vector<std::string> groups(parts.begin() + 1, parts.end());
  // "The `.p/<W>` suffix is only present for partial tiles … <W> is … a
  // decimal ASCII integer between 1 and 255, with no additional leading
  // zeroes."
  if (groups.size() >= 2 && groups[groups.size() - 2].size() == 5 &&
      groups[groups.size() - 2].substr(3) == ".p") {
    auto w = DecodeDecimal(groups.back());
    if (!w || *w < 1 || *w > 255) return std::nullopt;
    t.partial_width = *w;
    groups.pop_back();
    groups.back().resize(3);
  }
  // "<N> … MUST be a non-negative integer encoded into zero-padded 3-digit
  // path elements. All but the last path element MUST begin with an `x`."
  uint64_t n = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string g = groups[i];
    bool last = i + 1 == groups.size();
    if (!last) {
      if (g.size() != 4 || g[0] != 'x') return std::nullopt;
      g = g.substr(1);
    }
    if (g.size() != 3) return std::nullopt;
    for (char c : g) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    uint64_t group = uint64_t((g[0] - '0') * 100 + (g[1] - '0') * 10 + (g[2] - '0'));
    if (n > (UINT64_MAX - group) / 1000) return std::nullopt;
    n = n * 1000 + group;
    // Firebreak: only the canonical spelling, no leading all-zero group.
    if (!last && n == 0) return std::nullopt;
  }
  t.index = n;
  return t;
}

}  // namespace firebreak::ledger::c2sp
