// The published packs an audit may meet, by policy hash. A decision entry
// names the hash of the whole policy set that decided it (a holder layer and
// the national packs it imports); the index loads every pack directory under
// the published root on its own, and, for a hash not found that way, the
// combination of directories a policy-change entry listed (matched against
// the published root by their trailing path components).
//
// Error model: a pack that does not load is skipped (it cannot be what
// decided anything: the gateway loads only checked sets); `Error`s only for
// an unreadable root.
// Thread model: single-threaded.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/engine.h"

namespace firebreak::oversight::internal {

class PackIndex {
 public:
  // Loads every pack directory at or below `root`.
  static Result<PackIndex> Build(const std::string& root);

  // The engine of the set whose hash is `hash`, or nullptr.
  std::shared_ptr<const engine::Engine> Find(const std::string& hash) const;
  // Loads the combination `packs` (as a policy entry lists them: the paths
  // the holder configured) from the published root; remembers it under its
  // hash. Returns the hash, or "" when some directory is not published or
  // the set does not load.
  std::string LoadCombination(const std::vector<std::string>& packs);
  // Every hash known, with the directories that produce it.
  const std::map<std::string, std::vector<std::string>>& sources() const { return sources_; }
  const std::vector<std::string>& pack_dirs() const { return dirs_; }

 private:
  std::string Resolve(const std::string& configured) const;
  std::vector<std::string> dirs_;
  std::map<std::string, std::shared_ptr<const engine::Engine>> by_hash_;
  std::map<std::string, std::vector<std::string>> sources_;
  std::map<std::string, std::string> combinations_;  // joined dirs → hash ("" if it failed)
};

// Loads one set of pack directories; nullptr when it has errors.
std::shared_ptr<const engine::Engine> LoadEngine(const std::vector<std::string>& dirs);

}  // namespace firebreak::oversight::internal
