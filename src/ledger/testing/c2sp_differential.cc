#include "ledger/testing/c2sp_differential.h"

#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "ledger/testing/c2sp_reference.h"
#include "ledger/tiles.h"

namespace firebreak::ledger::c2sp {
namespace {

std::string Accepts(bool ours) {
  return ours ? "Firebreak accepts what the specification refuses" : "Firebreak refuses what the specification accepts";
}

std::optional<std::string> CompareCheckpoint(std::string_view text) {
  auto ours = ParseCheckpoint(text);
  auto spec = ReadCheckpointBody(text);
  if (bool(ours) != bool(spec)) return "checkpoint: " + Accepts(bool(ours));
  if (!ours) return std::nullopt;
  if (ours->origin != spec->origin || ours->size != spec->tree_size ||
      std::string(reinterpret_cast<const char*>(ours->root.data()), ours->root.size()) != spec->root_hash ||
      ours->extensions != spec->extension_lines) {
    return "checkpoint: the fields read differ";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> FirstDisagreement(std::string_view input) {
  {
    auto ours = ParseNote(input);
    auto spec = ReadSignedNote(input);
    if (bool(ours) != bool(spec)) return "signed note: " + Accepts(bool(ours));
    if (ours) {
      if (ours->text != spec->text || ours->signatures.size() != spec->signatures.size()) {
        return "signed note: the text or the number of signatures differ";
      }
      for (size_t i = 0; i < ours->signatures.size(); ++i) {
        const NoteSignature& a = ours->signatures[i];
        const SignatureLine& b = spec->signatures[i];
        if (a.name != b.key_name || a.key_id != b.key_id || a.signature != b.signature) {
          return "signed note: signature " + std::to_string(i) + " reads differently";
        }
      }
      if (auto d = CompareCheckpoint(ours->text)) return "in a note's text: " + *d;
    }
  }
  if (auto d = CompareCheckpoint(input)) return d;
  {
    auto ours = ParseReceipt(input);
    auto spec = ReadTlogProof(input);
    if (bool(ours) != bool(spec)) return "tlog-proof: " + Accepts(bool(ours));
    if (ours) {
      bool same = ours->extra == spec->extra.value_or("") && ours->index == spec->index &&
                  ours->inclusion_proof.size() == spec->proof.size() && ours->checkpoint == spec->checkpoint;
      for (size_t i = 0; same && i < spec->proof.size(); ++i) {
        const Hash& h = ours->inclusion_proof[i];
        same = std::string(reinterpret_cast<const char*>(h.data()), h.size()) == spec->proof[i];
      }
      if (!same) return "tlog-proof: the fields read differ";
    }
  }
  if (input.size() <= 256) {
    auto ours = ParseTilePath(input);
    auto spec = ReadTilePath(input);
    if (bool(ours) != bool(spec)) return "tile path: " + Accepts(bool(ours));
    if (ours) {
      bool entries = ours->level == kEntriesLevel;
      uint64_t width = spec->partial_width.value_or(kTileWidth);
      if (entries != spec->entries || (!entries && ours->level != spec->level) || ours->index != spec->index ||
          ours->width != width) {
        return "tile path: the fields read differ";
      }
    }
  }
  return std::nullopt;
}

}  // namespace firebreak::ledger::c2sp
