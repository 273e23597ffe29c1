#include "gateway/internal/fact_cache.h"

namespace firebreak::gateway::internal {
namespace {

std::string CredentialKey(store::CredentialKind kind, std::string_view digest) {
  std::string key(1, char('0' + int(kind)));
  key += digest;
  return key;
}

// What the caller named, exactly as sent (nullopt: no one, nothing to read).
std::optional<std::string> SubjectKey(const CallerRequest& caller) {
  switch (caller.by) {
    case CallerRequest::SubjectBy::kReference:
      return "r" + caller.reference;
    case CallerRequest::SubjectBy::kIdentity: {
      std::string key = "i" + caller.given_name;
      key += '\0';
      key += caller.family_name;
      key += '\0';
      key += caller.date_of_birth;
      return key;
    }
    case CallerRequest::SubjectBy::kNone:
      break;
  }
  return std::nullopt;
}

}  // namespace

FactCache::FactCache(store::Store& store, size_t capacity) : store_(store), capacity_(capacity) {}

Result<FactCache::Stamp> FactCache::Now() {
  FB_ASSIGN_OR_RETURN(std::optional<uint64_t> value, store_.ChangeStamp());
  return Stamp{value};
}

void FactCache::Align(uint64_t stamp) {
  if (aligned_ && stamp == stamp_) return;
  orgs_.clear();
  subjects_.clear();
  stamp_ = stamp;
  aligned_ = true;
}

Result<std::optional<store::Organisation>> FactCache::Organisation(const Stamp& now, store::CredentialKind kind,
                                                                   std::string_view sha256_hex) {
  if (!now.value) {
    {
      std::lock_guard lock(mu_);
      ++counts_.uncached;
    }
    return store_.FindOrganisationByCredential(kind, sha256_hex);
  }
  uint64_t stamp = *now.value;
  std::string key = CredentialKey(kind, sha256_hex);
  {
    std::lock_guard lock(mu_);
    Align(stamp);
    auto it = orgs_.find(key);
    if (it != orgs_.end()) {
      ++counts_.hits;
      return it->second;
    }
    ++counts_.misses;
  }
  FB_ASSIGN_OR_RETURN(std::optional<store::Organisation> org, store_.FindOrganisationByCredential(kind, sha256_hex));
  std::lock_guard lock(mu_);
  // Kept only if nothing changed since the stamp was read before it.
  if (aligned_ && stamp_ == stamp) {
    if (orgs_.size() >= capacity_) orgs_.clear();
    orgs_.emplace(std::move(key), org);
  }
  return org;
}

Result<std::shared_ptr<const Resolution>> FactCache::Resolve(const Stamp& now, const CallerRequest& caller) {
  std::optional<std::string> key = SubjectKey(caller);
  std::optional<uint64_t> stamp = key ? now.value : std::nullopt;
  if (stamp) {
    std::lock_guard lock(mu_);
    Align(*stamp);
    auto it = subjects_.find(*key);
    if (it != subjects_.end()) {
      ++counts_.hits;
      return it->second;
    }
    ++counts_.misses;
  } else {
    std::lock_guard lock(mu_);
    ++counts_.uncached;
  }
  FB_ASSIGN_OR_RETURN(Resolution fresh, internal::Resolve(store_, caller));
  auto shared = std::make_shared<const Resolution>(std::move(fresh));
  if (stamp) {
    std::lock_guard lock(mu_);
    if (aligned_ && stamp_ == *stamp) {
      if (subjects_.size() >= capacity_) subjects_.clear();
      subjects_.emplace(std::move(*key), shared);
    }
  }
  return shared;
}

FactCache::Counts FactCache::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace firebreak::gateway::internal
