// Helpers shared by the verifier's tests and benchmarks: where the shipped
// packs are, scratch directories, loading, and the engine's own reading of a
// guarantee.
//
// Thread model: thread-compatible.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/testing/generator.h"
#include "verify/verify.h"
#include "policy/policy.h"

namespace firebreak::verify::testing {

// The random policy and request generator lives below both users, in
// engine/testing; these names keep the verifier's tests short.
using engine::testing::BodyOptions;
using engine::testing::Generator;
using engine::testing::SyntheticSchemaText;
using engine::testing::WritePack;
using engine::testing::WriteSyntheticSchema;


inline std::string SourceDir() {
  if (const char* e = std::getenv("FIREBREAK_SOURCE_DIR")) return e;
#ifdef FIREBREAK_SOURCE_DIR
  return FIREBREAK_SOURCE_DIR;
#else
  return ".";
#endif
}

inline std::string UkDir() { return SourceDir() + "/policies/uk"; }

// A fresh directory under the system temp directory, removed on destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    path_ = std::filesystem::temp_directory_path() /
            ("firebreak-verify-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Loads a set; on failure returns null and puts the diagnostics in `*why`.
inline std::shared_ptr<const policy::PolicySet> LoadSet(const std::vector<std::string>& dirs,
                                                        std::string* why) {
  auto loaded = policy::LoadPolicySet(dirs);
  if (!loaded) {
    *why = loaded.error().message();
    return nullptr;
  }
  if (!loaded->ok()) {
    *why = loaded->Render();
    return nullptr;
  }
  return loaded->set;
}

using verify::EngineViolates;

// The packs under policies/uk that have rules or guarantees of their own.
inline std::vector<std::string> ShippedPacks() {
  std::vector<std::string> out;
  auto packs = policy::FindPacks(UkDir());
  if (!packs) return out;
  for (const std::string& p : *packs) {
    std::string name = std::filesystem::path(p).filename().string();
    if (name == "schema") continue;
    out.push_back(p);
  }
  return out;
}

}  // namespace firebreak::verify::testing
