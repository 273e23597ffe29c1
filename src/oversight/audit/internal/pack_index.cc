#include "oversight/audit/internal/pack_index.h"

#include <filesystem>

#include "policy/policy.h"

namespace firebreak::oversight::internal {

namespace fs = std::filesystem;

std::shared_ptr<const engine::Engine> LoadEngine(const std::vector<std::string>& dirs) {
  auto loaded = policy::LoadPolicySet(dirs);
  if (!loaded || !loaded->ok()) return nullptr;
  return engine::Engine::Compile(loaded->set);
}

Result<PackIndex> PackIndex::Build(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return tl::make_unexpected(NotFound("--packs: `" + root + "` is not a directory"));
  }
  PackIndex index;
  FB_ASSIGN_OR_RETURN(index.dirs_, policy::FindPacks(root));
  for (const std::string& dir : index.dirs_) {
    auto engine = LoadEngine({dir});
    if (!engine) continue;
    const std::string& hash = engine->policy_hash();
    index.by_hash_.emplace(hash, engine);
    index.sources_[hash].push_back(dir);
  }
  return index;
}

std::shared_ptr<const engine::Engine> PackIndex::Find(const std::string& hash) const {
  auto it = by_hash_.find(hash);
  return it == by_hash_.end() ? nullptr : it->second;
}

// The published directory whose trailing path components match most of
// `configured`'s (at least its last one).
std::string PackIndex::Resolve(const std::string& configured) const {
  fs::path want = fs::path(configured).lexically_normal();
  std::vector<std::string> want_parts;
  for (const auto& p : want) {
    if (!p.empty() && p != "/") want_parts.push_back(p.string());
  }
  std::string best;
  size_t best_len = 0;
  for (const std::string& dir : dirs_) {
    std::vector<std::string> parts;
    for (const auto& p : fs::path(dir).lexically_normal()) {
      if (!p.empty() && p != "/") parts.push_back(p.string());
    }
    size_t n = 0;
    while (n < parts.size() && n < want_parts.size() &&
           parts[parts.size() - 1 - n] == want_parts[want_parts.size() - 1 - n]) {
      ++n;
    }
    if (n > best_len) {
      best_len = n;
      best = dir;
    }
  }
  return best;
}

std::string PackIndex::LoadCombination(const std::vector<std::string>& packs) {
  std::vector<std::string> dirs;
  std::string joined;
  for (const std::string& p : packs) {
    std::string dir = Resolve(p);
    if (dir.empty()) return "";
    dirs.push_back(dir);
    joined += dir + "\n";
  }
  if (auto it = combinations_.find(joined); it != combinations_.end()) return it->second;
  std::string hash;
  if (auto engine = LoadEngine(dirs)) {
    hash = engine->policy_hash();
    by_hash_.emplace(hash, engine);
    auto& src = sources_[hash];
    if (src.empty()) src = dirs;
  }
  combinations_[joined] = hash;
  return hash;
}

}  // namespace firebreak::oversight::internal
