// The parser: tokens of one file to a `Module`. Hand-written recursive
// descent with precedence climbing for `or`/`and`; each `ParseX()` carries its
// production above it. On a syntax error it reports a diagnostic, skips to the
// next item and goes on, so one run reports every error.
//
// Thread model: thread-compatible.
//
//   DiagnosticSink sink;
//   Module m = Parse(sources, file_id, sink);
#pragma once

#include "policy/ast.h"
#include "policy/diagnostics.h"

namespace firebreak::policy {

Module Parse(const SourceManager& sources, FileId file, DiagnosticSink& sink);

// Days since 1970-01-01 of a proleptic Gregorian date; used for date literals
// and request timestamps. Returns false for an impossible date.
bool CivilToUnixSeconds(int year, int month, int day, int hour, int minute, int second,
                        int64_t* out);
// Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ".
bool ParseTimestamp(std::string_view text, int64_t* out);
// Formats Unix seconds as "YYYY-MM-DD" when at midnight, else "YYYY-MM-DDTHH:MM:SSZ".
std::string FormatTimestamp(int64_t seconds, bool date_only);

}  // namespace firebreak::policy
