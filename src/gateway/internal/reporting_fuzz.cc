// Fuzz target: what a victims' service and a tracker user send — the body
// of POST /v1/reports (`ParseReport`) and the query of GET /v1/tracker
// (`ParseTrackerQuery`) — and the evidence page's escaping. The first byte
// picks which; the rest is the input.
//
// Properties besides "no crash": a report read carries no immigration field
// (every dropped key is one, no kept field is one), a role, an offence a
// report may name, both names and a calendar date or none; a refusal is a
// 400 naming its field unless the body is not JSON at all. A query read has
// 1 ≤ page, 1 ≤ per_page ≤ 200, a known format and from ≤ to. An escaped
// string holds no character HTML would read as markup.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "base/encoding.h"
#include "gateway/internal/reports.h"
#include "gateway/internal/tracker.h"

using namespace firebreak::gateway::internal;

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "reporting_fuzz: %s\n", what);
  std::abort();
}

void CheckReport(std::string_view body) {
  auto r = ParseReport(body);
  if (!r) {
    if (r.error().status != 400) Fail("a refused report is not a 400");
    if (r.error().message.empty()) Fail("a refused report has no message");
    return;
  }
  if (r->role != "victim" && r->role != "witness") Fail("a report with another role");
  if (std::find(kReportOffences.begin(), kReportOffences.end(), r->offence) == kReportOffences.end()) {
    Fail("a report naming an offence a report may not name");
  }
  if (r->given_name.empty() || r->family_name.empty()) Fail("a report without both names");
  if (!r->date_of_birth.empty() && !DateToUnix(r->date_of_birth)) Fail("a date of birth that is not a date");
  for (const auto& f : r->fields) {
    if (IsImmigrationField(f.name)) Fail("an immigration field was kept");
  }
  // A dropped path is "parent.key" (keys may hold dots themselves): some
  // suffix after a dot, or the whole path, is the immigration key.
  for (const std::string& path : r->dropped) {
    bool found = IsImmigrationField(path);
    for (size_t dot = path.find('.'); !found && dot != std::string::npos; dot = path.find('.', dot + 1)) {
      found = IsImmigrationField(std::string_view(path).substr(dot + 1));
    }
    if (!found) Fail("a dropped key that is not an immigration field");
  }
}

void CheckQuery(std::string_view query) {
  auto q = ParseTrackerQuery(query);
  if (!q) {
    if (q.error().status != 400 || q.error().field.empty()) Fail("a refused query is not a 400 naming its parameter");
    return;
  }
  if (q->page < 1 || q->per_page < 1 || q->per_page > 200) Fail("a page outside its range");
  if (q->format != "json" && q->format != "html") Fail("an unknown format");
  if (q->from > q->to) Fail("a period that ends before it starts");
}

void CheckEscape(std::string_view s) {
  std::string e = firebreak::HtmlEscape(s);
  if (e.find_first_of("<>\"'") != std::string::npos) Fail("an escaped string holds markup");
  for (size_t i = e.find('&'); i != std::string::npos; i = e.find('&', i + 1)) {
    if (e.find(';', i) == std::string::npos) Fail("a bare ampersand");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: CheckReport(in); break;
    case 1: CheckQuery(in); break;
    default: CheckEscape(in); break;
  }
  return 0;
}
