// The checker: resolves and types every name and expression of a set of
// parsed packs against the one schema, enforces layers and pins, and builds
// the `PolicySet` IR with its canonical hash. All problems are diagnostics;
// the result is null when there is any error.
//
// Thread model: thread-compatible.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy/ast.h"
#include "policy/diagnostics.h"
#include "policy/ir.h"

namespace firebreak::policy {

struct LoadedPack {
  PackInfo info;
  Span manifest_span;           // the `pack` item
  std::vector<Module> modules;  // pack.fbp first, then the other files by name
};

std::shared_ptr<PolicySet> Check(const SourceManager& sources,
                                 const std::vector<LoadedPack>& packs, DiagnosticSink& sink);

// The closest of `candidates` to `word` within a small edit distance, or "".
std::string Suggest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace firebreak::policy
