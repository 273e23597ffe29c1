// Binding the holder's facts into a `Request` directly, in the schema's
// codes, with no JSON in between: what the gateway reads from its store
// (the subject, its cases, a source record's provenance) goes straight into
// the engine's masks and indices.
//
// Error model: a value outside the schema is the holder's data being wrong,
// not the caller's: `Internal` naming the field and value. The request is
// then not decided (fail closed).
// Thread model: free functions, thread-safe.
//
//   engine::SubjectFacts f{.roles = {"victim"}, .concern = "none", ...};
//   FB_RETURN_IF_ERROR(engine::BindSubject(schema, f, &request));
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "engine/request.h"
#include "policy/ir.h"

namespace firebreak::engine {

struct CaseCodes {
  std::string_view type, status, role;
  std::vector<std::string_view> flags;  // flags recorded on the case (may be empty)
};

struct SubjectFacts {
  std::vector<std::string_view> roles;  // service roles (patient, pupil, …); case roles are added
  std::vector<std::string_view> flags;
  std::string_view concern;
  bool regularisation_pending = false;
  bool subject_initiated = false;
  bool consent_to_ie = false;
  std::vector<CaseCodes> cases;
  // The subject's recorded application choice (X1): the organisation id she
  // named ("" when none is recorded) and the category codes she chose.
  std::string_view application_recipient;
  std::vector<std::string_view> chosen_categories;
};

// Marks `request` as about no person (`subject is none`): the caller named
// nobody, as for aggregate statistics. Not for a person who could not be
// resolved, which stays unknown.
void BindNoSubject(Request* request);

// Sets `has_subject` and every subject fact of `request`.
Status BindSubject(const policy::Schema& schema, const SubjectFacts& facts, Request* request);

// Sets `has_record`, `collected_as` and, when `case_type` is not empty, the
// record's case.
Status BindRecord(const policy::Schema& schema, std::string_view collected_as,
                  std::string_view case_type, std::string_view case_status, Request* request);

}  // namespace firebreak::engine
