// The witness's durable state: for each log it watches, the size, root and
// cosigned checkpoint it last cosigned, and the evidence of misbehaviour it
// kept. SQLite (WAL, synchronous=FULL, exclusive lock: one witness process
// per database); every change is a compare-and-swap on the stored size and
// root, committed (fsync'd) before `Commit` returns. Concurrent commits are
// grouped into one transaction (group commit), so that many logs cost one
// fsync between them.
//
// Error model: database failures are `Error`s; a compare-and-swap that finds
// another state is a value (`kConflict`).
// Thread model: thread-safe; `Commit` blocks until its batch is durable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "ledger/merkle.h"

namespace firebreak::oversight::witness::internal {

struct LogState {
  uint64_t size = 0;
  ledger::Hash root{};      // meaningful when size > 0 or `cosigned` is set
  std::string cosigned;     // the last checkpoint cosigned, with its cosignature; "" if none
};

// A request kept as evidence of a log's misbehaviour.
struct Evidence {
  int64_t id = 0;
  int64_t received = 0;       // POSIX seconds
  std::string origin;
  int status = 0;             // the HTTP status answered
  std::string reason;         // plain English
  std::string request;        // the add-checkpoint body, verbatim
  std::string stored;         // the cosigned checkpoint held at the time ("" if none)
};

// One change: either a compare-and-swap of a log's state or new evidence.
struct Change {
  std::string origin;
  // Compare-and-swap: expected current size and root, then the new state.
  uint64_t expect_size = 0;
  ledger::Hash expect_root{};
  bool expect_unset = false;  // the log was never cosigned (no row)
  LogState next;
  // Or evidence (when set, the CAS fields are ignored).
  std::optional<Evidence> evidence;
};

enum class CommitOutcome { kCommitted, kConflict };

class StateStore {
 public:
  // Opens (creating if needed) the database at `path`.
  [[nodiscard]] static Result<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // The stored state of `origin`, or nullopt if it was never cosigned.
  [[nodiscard]] Result<std::optional<LogState>> Load(const std::string& origin);
  // Applies `change` durably (grouped with concurrent ones).
  [[nodiscard]] Result<CommitOutcome> Commit(Change change);
  // How many pieces of evidence are kept for `origin`.
  [[nodiscard]] Result<uint64_t> CountEvidence(const std::string& origin);
  // Evidence kept, oldest first (at most `limit`).
  [[nodiscard]] Result<std::vector<Evidence>> ListEvidence(size_t limit = 1000);

  struct Impl;

 private:
  explicit StateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak::oversight::witness::internal
