// C2SP tlog-witness v1.0.0, "add-checkpoint": the request and answer bodies.
#include "ledger/witness_protocol.h"

#include <unordered_set>

#include "base/encoding.h"

namespace firebreak::ledger {
namespace {

// A note text that only carries signature lines through ParseNote/FormatNote.
constexpr std::string_view kCarrierText = "cosignatures\n";

}  // namespace

Result<uint64_t> ParseDecimalSize(std::string_view text) {
  if (text.empty() || text.size() > 20) {
    return tl::make_unexpected(InvalidArgument("a tree size must be 1 to 20 decimal digits"));
  }
  if (text.size() > 1 && text[0] == '0') {
    return tl::make_unexpected(InvalidArgument("a tree size must not have leading zeroes"));
  }
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return tl::make_unexpected(InvalidArgument("a tree size must be ASCII decimal digits"));
    }
    uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return tl::make_unexpected(InvalidArgument("a tree size must be below 2^64"));
    }
    v = v * 10 + d;
  }
  return v;
}

std::string FormatAddCheckpoint(const AddCheckpointRequest& request) {
  std::string out = "old " + std::to_string(request.old_size) + "\n";
  for (const Hash& h : request.proof) {
    out += Base64Encode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
    out += '\n';
  }
  out += '\n';
  out += request.checkpoint;
  return out;
}

Result<AddCheckpointRequest> ParseAddCheckpoint(std::string_view body) {
  AddCheckpointRequest out;
  // The old size line.
  size_t eol = body.find('\n');
  if (eol == std::string_view::npos || body.substr(0, 4) != "old ") {
    return tl::make_unexpected(InvalidArgument("the body must start with an `old <size>` line"));
  }
  auto old_size = ParseDecimalSize(body.substr(4, eol - 4));
  if (!old_size) return tl::make_unexpected(old_size.error().WithContext("the `old` line"));
  out.old_size = *old_size;
  body.remove_prefix(eol + 1);
  // Proof lines up to the empty line.
  while (true) {
    eol = body.find('\n');
    if (eol == std::string_view::npos) {
      return tl::make_unexpected(
          InvalidArgument("the body has no empty line between the proof and the checkpoint"));
    }
    if (eol == 0) break;
    if (out.proof.size() == kMaxWitnessProofLines) {
      return tl::make_unexpected(InvalidArgument("the body has more than 63 consistency proof lines"));
    }
    auto raw = Base64Decode(body.substr(0, eol));
    if (!raw || raw->size() != kHashSize) {
      return tl::make_unexpected(InvalidArgument(
          "consistency proof line " + std::to_string(out.proof.size() + 1) +
          " is not the base64 of a 32-byte hash"));
    }
    Hash h;
    std::copy(raw->begin(), raw->end(), reinterpret_cast<char*>(h.data()));
    out.proof.push_back(h);
    body.remove_prefix(eol + 1);
  }
  body.remove_prefix(1);
  if (body.empty()) return tl::make_unexpected(InvalidArgument("the body has no checkpoint"));
  out.checkpoint = std::string(body);
  return out;
}

std::string FormatCosignatures(const std::vector<NoteSignature>& cosignatures) {
  Note carrier{std::string(kCarrierText), cosignatures};
  return FormatNote(carrier).substr(kCarrierText.size() + 1);
}

Result<std::vector<NoteSignature>> ParseCosignatures(std::string_view body) {
  if (body.empty()) return tl::make_unexpected(InvalidArgument("the answer has no cosignature line"));
  if (body.back() != '\n') {
    return tl::make_unexpected(InvalidArgument("the answer's last line does not end in a newline"));
  }
  std::string carrier = std::string(kCarrierText) + "\n" + std::string(body);
  auto note = ParseNote(carrier);
  if (!note) {
    return tl::make_unexpected(InvalidArgument(
        "the answer is not a sequence of note signature lines (`— <name> <base64>`)"));
  }
  return std::move(note->signatures);
}

std::string FormatTlogSize(uint64_t size) { return std::to_string(size) + "\n"; }

Result<uint64_t> ParseTlogSize(std::string_view body) {
  if (body.empty() || body.back() != '\n') {
    return tl::make_unexpected(InvalidArgument("a text/x.tlog.size body must be a size and a newline"));
  }
  return ParseDecimalSize(body.substr(0, body.size() - 1));
}

Result<uint64_t> CosignatureTimestamp(const NoteSignature& cosignature) {
  if (cosignature.signature.size() != 8 + 64) {
    return tl::make_unexpected(
        InvalidArgument("a cosignature/v1 signature is 72 bytes (timestamp and Ed25519)"));
  }
  uint64_t ts = 0;
  for (int i = 0; i < 8; ++i) ts = (ts << 8) | static_cast<unsigned char>(cosignature.signature[i]);
  return ts;
}

Result<std::string> AddSignatures(std::string_view signed_note,
                                  const std::vector<NoteSignature>& extra) {
  auto note = ParseNote(signed_note);
  if (!note) return tl::make_unexpected(InvalidArgument("not a signed note"));
  for (const NoteSignature& s : extra) {
    bool present = false;
    for (const NoteSignature& have : note->signatures) {
      if (have.name == s.name && have.key_id == s.key_id) present = true;
    }
    if (!present) note->signatures.push_back(s);
  }
  return FormatNote(*note);
}

}  // namespace firebreak::ledger
