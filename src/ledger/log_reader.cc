#include "ledger/log_reader.h"

#include <algorithm>

#include "ledger/merkle.h"
#include "ledger/tiles.h"

namespace firebreak::ledger {

Result<LogReader::Snapshot> LogReader::Latest() const {
  Snapshot s;
  FB_ASSIGN_OR_RETURN(s.note, storage_.ReadFile("checkpoint"));
  if (verifier_) {
    FB_ASSIGN_OR_RETURN(s.checkpoint, OpenCheckpoint(s.note, *verifier_));
    return s;
  }
  auto parsed = ParseNote(s.note);
  if (!parsed) {
    return tl::make_unexpected(
        DataLoss("the checkpoint is not a signed note: " + std::string(NoteErrorName(parsed.error()))));
  }
  FB_ASSIGN_OR_RETURN(s.checkpoint, ParseCheckpoint(parsed->text));
  return s;
}

Status LogReader::ForEachEntry(const Snapshot& snapshot, uint64_t begin, uint64_t end,
                               const std::function<Status(uint64_t, std::string_view)>& fn) const {
  uint64_t size = snapshot.checkpoint.size;
  if (end > size || begin > end) {
    return tl::make_unexpected(NotFound("entries [" + std::to_string(begin) + ", " + std::to_string(end) +
                                        ") are not all in the tree of size " + std::to_string(size)));
  }
  for (uint64_t i = begin; i < end;) {
    uint64_t bundle = i / kTileWidth;
    uint64_t width = std::min<uint64_t>(kTileWidth, size - bundle * kTileWidth);
    FB_ASSIGN_OR_RETURN(std::string data, storage_.ReadFile(EntryBundlePath(bundle, width)));
    auto entries = ParseBundle(data);
    if (!entries) return tl::make_unexpected(entries.error().WithContext("entry bundle " + std::to_string(bundle)));
    for (; i < end && i / kTileWidth == bundle; ++i) {
      size_t at = size_t(i % kTileWidth);
      if (at >= entries->size()) return tl::make_unexpected(DataLoss("entry " + std::to_string(i) + " is missing"));
      FB_RETURN_IF_ERROR(fn(i, (*entries)[at]));
    }
  }
  return Ok();
}

Result<std::string> LogReader::Entry(const Snapshot& snapshot, uint64_t index) const {
  std::string out;
  FB_RETURN_IF_ERROR(ForEachEntry(snapshot, index, index + 1, [&](uint64_t, std::string_view e) {
    out = std::string(e);
    return Ok();
  }));
  return out;
}

Result<Receipt> LogReader::ReceiptFor(const Snapshot& snapshot, uint64_t index) const {
  Receipt r;
  FB_ASSIGN_OR_RETURN(r.extra, Entry(snapshot, index));
  FileReader read = [this](const std::string& p) { return storage_.ReadFile(p); };
  TileNodeReader nodes(read, snapshot.checkpoint.size);
  FB_ASSIGN_OR_RETURN(r.inclusion_proof, InclusionProof(index, snapshot.checkpoint.size, nodes.AsNodeReader()));
  r.index = index;
  r.checkpoint = snapshot.note;
  return r;
}

}  // namespace firebreak::ledger
