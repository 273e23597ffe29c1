// Diagnostics: a policy author's mistakes, reported as data (never as an
// `Error`). Rendered as
//
//   policies/uk/a/rules.fbp:12:7: error[E201]: unknown value `victm` for `role`
//      12 |   when subject.roles has victm
//         |                          ^~~~~
//
// Ids are stable: tests pin them with golden files and documentation cites
// them. Add new ids at the end of their group; never renumber.
//
// Thread model: thread-compatible values.
#pragma once

#include <string>
#include <vector>

#include "policy/source.h"

namespace firebreak::policy {

#define FB_DIAGNOSTIC_IDS(X)                                                   \
  /* Lexical: E0xx */                                                          \
  X(kUnexpectedCharacter, "E001")                                              \
  X(kUnterminatedString, "E002")                                               \
  X(kBadEscape, "E003")                                                        \
  X(kBadNumber, "E004")                                                        \
  X(kBadDate, "E005")                                                          \
  /* Syntax: E1xx */                                                           \
  X(kExpected, "E101")                                                         \
  X(kUnknownItem, "E102")                                                      \
  X(kUnknownClause, "E103")                                                    \
  X(kDuplicateClause, "E104")                                                  \
  X(kMissingClause, "E105")                                                    \
  X(kReservedName, "E106")                                                     \
  X(kNestedQuantifier, "E107")                                                 \
  /* Names and types: E2xx */                                                  \
  X(kUnknownAttribute, "E201")                                                 \
  X(kUnknownValue, "E202")                                                     \
  X(kUnknownSet, "E203")                                                       \
  X(kTypeMismatch, "E204")                                                     \
  X(kDuplicateName, "E205")                                                    \
  X(kDuplicateValue, "E206")                                                   \
  X(kUnknownEnumKind, "E207")                                                  \
  X(kMissingEnum, "E208")                                                      \
  X(kTooManyValues, "E209")                                                    \
  X(kCaseOutsideQuantifier, "E210")                                            \
  X(kBadContextType, "E211")                                                   \
  /* Packs, layers and pins: E3xx */                                           \
  X(kNoPack, "E301")                                                           \
  X(kBadImport, "E302")                                                        \
  X(kLayerViolation, "E303")                                                   \
  X(kSchemaCount, "E304")                                                      \
  X(kPinRemoved, "E305")                                                       \
  X(kPinAltered, "E306")                                                       \
  X(kBadPin, "E307")                                                           \
  X(kBadLayer, "E308")

enum class DiagnosticId {
#define FB_DIAG_ENUM(name, code) name,
  FB_DIAGNOSTIC_IDS(FB_DIAG_ENUM)
#undef FB_DIAG_ENUM
};

const char* DiagnosticCode(DiagnosticId id);

enum class Severity { kError, kWarning, kNote };

struct Diagnostic {
  DiagnosticId id;
  Severity severity = Severity::kError;
  Span span;  // span.length == 0 and no file for set-wide problems
  bool has_span = true;
  std::string message;
};

class DiagnosticSink {
 public:
  void Error(DiagnosticId id, Span span, std::string message) {
    diags_.push_back({id, Severity::kError, span, true, std::move(message)});
  }
  void ErrorNoSpan(DiagnosticId id, std::string message) {
    diags_.push_back({id, Severity::kError, {}, false, std::move(message)});
  }
  bool has_errors() const;
  const std::vector<Diagnostic>& diagnostics() const { return diags_; }
  // Sorted by file, line and column, for stable output.
  std::vector<Diagnostic> Sorted() const;

 private:
  std::vector<Diagnostic> diags_;
};

// Renders one diagnostic with its source line and a caret underline.
std::string RenderDiagnostic(const SourceManager& sources, const Diagnostic& d);
// Renders all of them in order, followed by "N errors." when there are any.
std::string RenderDiagnostics(const SourceManager& sources, const DiagnosticSink& sink);

}  // namespace firebreak::policy
