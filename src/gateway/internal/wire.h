// The caller's wire format (docs/api.md): what a requester may say in a
// disclosure or decision request — the request, never the facts. Parsed into
// a `CallerRequest` or refused with a `Problem` naming the field. Reachable
// by tests and fuzz targets.
//
// Thread model: free functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <tl/expected.hpp>

#include "store/store.h"

namespace firebreak::gateway::internal {

// A client error: status, the field at fault (may be empty) and what is wrong.
struct Problem {
  int status = 400;
  std::string field;
  std::string message;
};

// What a caller may say: the request, never the facts.
struct CallerRequest {
  boost::json::object base;  // the wire form of DESIGN §2 without subject and record
  enum class SubjectBy { kNone, kReference, kIdentity } by = SubjectBy::kNone;
  std::string reference, given_name, family_name, date_of_birth;
  std::vector<std::string> categories;
};

// A calendar date YYYY-MM-DD (proleptic Gregorian; 1900-02-29 is not one).
bool IsDate(std::string_view s);

// Parses a request body from `org`'s credential: the requester is taken from
// the credential (a body may only repeat it), subject facts and records are
// refused, the subject is named by reference or identity.
tl::expected<CallerRequest, Problem> ParseCaller(std::string_view body, const store::Organisation& org);

}  // namespace firebreak::gateway::internal
