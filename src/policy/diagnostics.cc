#include "policy/diagnostics.h"

#include <algorithm>

#include <fmt/format.h>

namespace firebreak::policy {

const char* DiagnosticCode(DiagnosticId id) {
  switch (id) {
#define FB_DIAG_CASE(name, code) \
  case DiagnosticId::name:       \
    return code;
    FB_DIAGNOSTIC_IDS(FB_DIAG_CASE)
#undef FB_DIAG_CASE
  }
  return "E000";
}

bool DiagnosticSink::has_errors() const {
  return std::any_of(diags_.begin(), diags_.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

std::vector<Diagnostic> DiagnosticSink::Sorted() const {
  std::vector<Diagnostic> out = diags_;
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.has_span != b.has_span) return a.has_span;  // set-wide problems last
    if (a.span.file != b.span.file) return a.span.file < b.span.file;
    if (a.span.line != b.span.line) return a.span.line < b.span.line;
    return a.span.column < b.span.column;
  });
  return out;
}

std::string RenderDiagnostic(const SourceManager& sources, const Diagnostic& d) {
  const char* sev = d.severity == Severity::kError     ? "error"
                    : d.severity == Severity::kWarning ? "warning"
                                                       : "note";
  if (!d.has_span) return fmt::format("{}[{}]: {}\n", sev, DiagnosticCode(d.id), d.message);
  std::string out = fmt::format("{}:{}:{}: {}[{}]: {}\n", sources.path(d.span.file), d.span.line,
                                d.span.column, sev, DiagnosticCode(d.id), d.message);
  std::string_view line = sources.Line(d.span.file, d.span.line);
  std::string gutter = std::to_string(d.span.line);
  out += fmt::format(" {} | {}\n", gutter, line);
  std::string pad(gutter.size(), ' ');
  std::string marker;
  for (uint32_t i = 1; i < d.span.column && i - 1 < line.size(); ++i) {
    marker += line[i - 1] == '\t' ? '\t' : ' ';
  }
  marker += '^';
  uint32_t avail = line.size() >= d.span.column ? uint32_t(line.size() - d.span.column + 1) : 1;
  uint32_t len = std::min<uint32_t>(std::max<uint32_t>(d.span.length, 1), avail);
  if (len > 1) marker += std::string(len - 1, '~');
  out += fmt::format(" {} | {}\n", pad, marker);
  return out;
}

std::string RenderDiagnostics(const SourceManager& sources, const DiagnosticSink& sink) {
  std::string out;
  size_t errors = 0;
  for (const Diagnostic& d : sink.Sorted()) {
    out += RenderDiagnostic(sources, d);
    if (d.severity == Severity::kError) ++errors;
  }
  if (errors > 0) out += fmt::format("{} error{}.\n", errors, errors == 1 ? "" : "s");
  return out;
}

}  // namespace firebreak::policy
