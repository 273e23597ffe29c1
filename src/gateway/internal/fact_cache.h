// The store's reads that every request repeats — who a credential belongs
// to, and the subject a request names with her cases and records — kept in
// memory while the store's change stamp (store.h `ChangeStamp`) stays the
// same. Every request reads the stamp first (one small read), so a fact that
// changes in the store, whichever program changes it, changes the very next
// decision; a backend that cannot give a stamp (PostgreSQL) is read every
// time, as before.
//
// Nothing about the protected fact depends on a hit or a miss: what is kept
// is keyed by what the caller sent, and outward refusals are released at
// their deadline whatever the work took (docs/operations.md).
//
// Thread model: thread-safe; one mutex held only to look up or insert.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/error.h"
#include "gateway/internal/pipeline.h"
#include "store/store.h"

namespace firebreak::gateway::internal {

class FactCache {
 public:
  // Holds at most `capacity` subjects and as many credentials; when full it
  // starts again empty (a stamp change empties it too).
  explicit FactCache(store::Store& store, size_t capacity = 4096);

  // The store's change stamp now: read once per request, then given to
  // the calls below (what they return is as of that stamp, or newer).
  struct Stamp {
    std::optional<uint64_t> value;  // nullopt: the backend cannot tell; nothing is kept
  };
  Result<Stamp> Now();

  Result<std::optional<store::Organisation>> Organisation(const Stamp& stamp, store::CredentialKind kind,
                                                          std::string_view sha256_hex);
  // `Resolve` (pipeline.h), shared: the result is never changed.
  Result<std::shared_ptr<const Resolution>> Resolve(const Stamp& stamp, const CallerRequest& caller);

  struct Counts {
    uint64_t hits = 0, misses = 0, uncached = 0;
  };
  Counts counts() const;

 private:
  // Empties the maps if `stamp` is not the one they were read under.
  void Align(uint64_t stamp);

  store::Store& store_;
  size_t capacity_;
  mutable std::mutex mu_;
  uint64_t stamp_ = 0;
  bool aligned_ = false;
  std::unordered_map<std::string, std::optional<store::Organisation>> orgs_;
  std::unordered_map<std::string, std::shared_ptr<const Resolution>> subjects_;
  Counts counts_;
};

}  // namespace firebreak::gateway::internal
