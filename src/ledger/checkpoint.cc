#include "ledger/checkpoint.h"

#include "base/encoding.h"

namespace firebreak::ledger {
namespace {

constexpr std::string_view kReceiptHeader = "c2sp.org/tlog-proof@v1";

// Decimal without leading zeros (except "0"), no sign, fits uint64_t.
Result<uint64_t> ParseDecimal(std::string_view s, std::string_view what) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) {
    return tl::make_unexpected(InvalidArgument(std::string(what) + " `" + std::string(s) +
                                               "` is not a decimal without leading zeros"));
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return tl::make_unexpected(InvalidArgument(std::string(what) + " `" + std::string(s) +
                                                 "` is not a decimal number"));
    }
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return tl::make_unexpected(InvalidArgument(std::string(what) + " is too large"));
    }
    v = v * 10 + d;
  }
  return v;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    if (eol == std::string_view::npos) {
      lines.push_back(text);
      break;
    }
    lines.push_back(text.substr(0, eol));
    text.remove_prefix(eol + 1);
  }
  return lines;
}

Result<Hash> DecodeHash(std::string_view b64, std::string_view what) {
  auto raw = Base64Decode(b64);
  if (!raw || raw->size() != kHashSize) {
    return tl::make_unexpected(
        InvalidArgument(std::string(what) + " is not the base64 of 32 bytes"));
  }
  return *HashFromBytes(*raw);
}

}  // namespace

std::string Checkpoint::Text() const {
  std::string t = origin + "\n" + std::to_string(size) + "\n" + Base64Encode(DigestBytes(root)) +
                  "\n";
  for (const std::string& e : extensions) t += e + "\n";
  return t;
}

Result<Checkpoint> ParseCheckpoint(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return tl::make_unexpected(InvalidArgument("checkpoint text does not end in a newline"));
  }
  std::vector<std::string_view> lines = SplitLines(text);
  if (lines.size() < 3) {
    return tl::make_unexpected(InvalidArgument("checkpoint has fewer than 3 lines"));
  }
  Checkpoint cp;
  cp.origin = std::string(lines[0]);
  if (cp.origin.empty()) return tl::make_unexpected(InvalidArgument("checkpoint origin is empty"));
  FB_ASSIGN_OR_RETURN(cp.size, ParseDecimal(lines[1], "checkpoint size"));
  FB_ASSIGN_OR_RETURN(cp.root, DecodeHash(lines[2], "checkpoint root hash"));
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return tl::make_unexpected(InvalidArgument("checkpoint has an empty extension line"));
    }
    cp.extensions.emplace_back(lines[i]);
  }
  return cp;
}

Result<Checkpoint> OpenCheckpoint(std::string_view signed_note, const NoteVerifier& log_key) {
  const NoteVerifier* keys[] = {&log_key};
  auto opened = OpenNote(signed_note, keys);
  if (!opened) {
    return tl::make_unexpected(
        InvalidArgument("checkpoint: " + std::string(NoteErrorName(opened.error()))));
  }
  FB_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpoint(opened->note.text));
  if (cp.origin != log_key.name()) {
    return tl::make_unexpected(InvalidArgument("checkpoint origin `" + cp.origin +
                                               "` is not the log key's name `" + log_key.name() +
                                               "`"));
  }
  return cp;
}

std::string FormatReceipt(const Receipt& r) {
  std::string out(kReceiptHeader);
  out += '\n';
  if (!r.extra.empty()) out += "extra " + Base64Encode(r.extra) + "\n";
  out += "index " + std::to_string(r.index) + "\n";
  for (const Hash& h : r.inclusion_proof) out += Base64Encode(DigestBytes(h)) + "\n";
  out += '\n';
  out += r.checkpoint;
  return out;
}

Result<Receipt> ParseReceipt(std::string_view text) {
  Receipt r;
  auto next_line = [&](std::string_view& line) -> bool {
    size_t eol = text.find('\n');
    if (eol == std::string_view::npos) return false;
    line = text.substr(0, eol);
    text.remove_prefix(eol + 1);
    return true;
  };
  std::string_view line;
  if (!next_line(line) || line != kReceiptHeader) {
    return tl::make_unexpected(InvalidArgument("receipt does not start with " +
                                               std::string(kReceiptHeader)));
  }
  if (!next_line(line)) return tl::make_unexpected(InvalidArgument("receipt has no index line"));
  if (line.substr(0, 6) == "extra ") {
    auto extra = Base64Decode(line.substr(6));
    if (!extra) return tl::make_unexpected(extra.error().WithContext("receipt extra"));
    r.extra = std::move(*extra);
    if (!next_line(line)) return tl::make_unexpected(InvalidArgument("receipt has no index line"));
  }
  if (line.substr(0, 6) != "index ") {
    return tl::make_unexpected(InvalidArgument("receipt line `" + std::string(line) +
                                               "` is not `index <n>`"));
  }
  FB_ASSIGN_OR_RETURN(r.index, ParseDecimal(line.substr(6), "receipt index"));
  for (;;) {
    if (!next_line(line)) {
      return tl::make_unexpected(InvalidArgument("receipt has no checkpoint"));
    }
    if (line.empty()) break;
    FB_ASSIGN_OR_RETURN(Hash h, DecodeHash(line, "receipt proof line"));
    r.inclusion_proof.push_back(h);
  }
  // "the checkpoint issued by the log is included verbatim, according to
  // tlog-checkpoint": a signed note whose text is a checkpoint.
  auto note = ParseNote(text);
  if (!note) return tl::make_unexpected(InvalidArgument("receipt checkpoint is not a signed note"));
  if (auto cp = ParseCheckpoint(note->text); !cp) return tl::make_unexpected(cp.error().WithContext("receipt checkpoint"));
  r.checkpoint = std::string(text);
  return r;
}

std::string_view ReceiptErrorName(ReceiptError e) {
  switch (e) {
    case ReceiptError::kBadCheckpoint: return "checkpoint does not verify with the log key";
    case ReceiptError::kOriginMismatch: return "checkpoint is from another log";
    case ReceiptError::kTooFewCosignatures: return "too few witness cosignatures";
    case ReceiptError::kInclusionFailed: return "inclusion proof does not verify";
  }
  return "unknown receipt error";
}

tl::expected<Checkpoint, ReceiptError> VerifyReceipt(
    const Receipt& receipt, std::string_view entry, const NoteVerifier& log_key,
    std::span<const NoteVerifier* const> witnesses, size_t min_witnesses) {
  std::vector<const NoteVerifier*> all = {&log_key};
  all.insert(all.end(), witnesses.begin(), witnesses.end());
  auto opened = OpenNote(receipt.checkpoint, all);
  if (!opened) return tl::make_unexpected(ReceiptError::kBadCheckpoint);
  bool log_signed = false;
  size_t cosigned = 0;
  for (const NoteVerifier* v : opened->verified_by) {
    if (v == &log_key) {
      log_signed = true;
    } else {
      ++cosigned;
    }
  }
  if (!log_signed) return tl::make_unexpected(ReceiptError::kBadCheckpoint);
  auto cp = ParseCheckpoint(opened->note.text);
  if (!cp) return tl::make_unexpected(ReceiptError::kBadCheckpoint);
  if (cp->origin != log_key.name()) return tl::make_unexpected(ReceiptError::kOriginMismatch);
  if (cosigned < min_witnesses) return tl::make_unexpected(ReceiptError::kTooFewCosignatures);
  if (!VerifyInclusion(receipt.index, cp->size, HashLeaf(entry), receipt.inclusion_proof,
                       cp->root)) {
    return tl::make_unexpected(ReceiptError::kInclusionFailed);
  }
  return *cp;
}

}  // namespace firebreak::ledger
