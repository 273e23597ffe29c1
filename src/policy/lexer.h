// The lexer: policy text to tokens and comments. Errors are diagnostics; an
// invalid character becomes a `kError` token so the parser can go on and
// report everything in one run.
//
// Thread model: thread-compatible.
#pragma once

#include <vector>

#include "policy/diagnostics.h"
#include "policy/token.h"

namespace firebreak::policy {

struct LexResult {
  std::vector<Token> tokens;  // always ends with kEof
  std::vector<Comment> comments;
};

LexResult Lex(const SourceManager& sources, FileId file, DiagnosticSink& sink);

}  // namespace firebreak::policy
