// A read-only view of a published log, opened once: its storage and, where
// given, the log's verifier key. Every read is against one checkpoint (a
// `Snapshot`): the signed note, entry i, a range of entries (each bundle read
// once), and a C2SP tlog-proof receipt for entry i. What the gateway's
// receipts, `firebreak log open` and every later reader (audit, tracker,
// reports) use instead of reading tiles themselves.
//
// Error model: `Error`s; kNotFound for an index the snapshot does not cover.
// Thread model: thread-safe if the storage's reads are (PosixStorage's are).
//
//   ledger::LogReader reader(*storage, verifier);
//   FB_ASSIGN_OR_RETURN(auto snap, reader.Latest());
//   FB_ASSIGN_OR_RETURN(ledger::Receipt r, reader.ReceiptFor(snap, 41));
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "ledger/storage.h"

namespace firebreak::ledger {

class LogReader {
 public:
  // Without `verifier` the checkpoint is parsed but its signature is not
  // checked (for tools that verify separately, like `log open`).
  LogReader(LogStorage& storage, std::optional<NoteVerifier> verifier)
      : storage_(storage), verifier_(std::move(verifier)) {}

  struct Snapshot {
    std::string note;  // the signed checkpoint, verbatim
    Checkpoint checkpoint;
  };
  // The latest published checkpoint.
  Result<Snapshot> Latest() const;
  // Entry `index` of the snapshot's tree.
  Result<std::string> Entry(const Snapshot& snapshot, uint64_t index) const;
  // Calls `fn(index, entry)` for every index in [begin, end) of the
  // snapshot's tree, in order, reading each bundle once; stops at the first
  // error `fn` returns.
  Status ForEachEntry(const Snapshot& snapshot, uint64_t begin, uint64_t end,
                      const std::function<Status(uint64_t, std::string_view)>& fn) const;
  // A tlog-proof for entry `index` against the snapshot, the entry as `extra`.
  Result<Receipt> ReceiptFor(const Snapshot& snapshot, uint64_t index) const;

 private:
  LogStorage& storage_;
  std::optional<NoteVerifier> verifier_;
};

}  // namespace firebreak::ledger
