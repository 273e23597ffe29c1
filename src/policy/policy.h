// Front door of `policy`: load policy packs from disk, check them against
// their schema, and get the resolved `PolicySet` (ir.h) that the engine
// compiles and the verifier proves; format policy files.
//
// Error model: a policy author's mistakes are diagnostics inside the result
// (`LoadedPolicy::diagnostics`); `Error` is only for paths that do not exist
// or are not packs, and for unreadable files.
// Thread model: loading is single-threaded; the resulting `PolicySet` is
// immutable and may be shared across threads.
//
//   FB_ASSIGN_OR_RETURN(LoadedPolicy loaded, LoadPolicySet({"policies/uk/strict-firewall"}));
//   if (!loaded.ok()) { std::cerr << loaded.Render(); return 1; }
//   std::shared_ptr<const PolicySet> set = loaded.set;
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "policy/ast.h"
#include "policy/checker.h"
#include "policy/diagnostics.h"
#include "policy/formatter.h"
#include "policy/ir.h"
#include "policy/parser.h"
#include "policy/source.h"

namespace firebreak::policy {

inline constexpr char kManifestName[] = "pack.fbp";
inline constexpr char kPolicyExtension[] = ".fbp";

struct LoadedPolicy {
  std::shared_ptr<SourceManager> sources;
  DiagnosticSink diagnostics;
  std::vector<LoadedPack> packs;
  std::shared_ptr<const PolicySet> set;  // null when there are errors

  bool ok() const { return set != nullptr && !diagnostics.has_errors(); }
  std::string Render() const { return RenderDiagnostics(*sources, diagnostics); }
};

// Loads the packs in `pack_dirs` and everything they import, then checks the
// whole set. Each directory must hold a `pack.fbp`.
Result<LoadedPolicy> LoadPolicySet(const std::vector<std::string>& pack_dirs);

// The pack directories at or below `path`: `path` itself when it holds a
// `pack.fbp`, else every directory below it that does, sorted.
Result<std::vector<std::string>> FindPacks(const std::string& path);

// The `.fbp` files at or below `path` (a file or a directory), sorted.
Result<std::vector<std::string>> FindPolicyFiles(const std::string& path);

}  // namespace firebreak::policy
