// A decision request in the engine's form: every enumerated value is an index
// into the schema, every set a bit mask. Built from the wire form of DESIGN §2
// by `ParseRequest`, which rejects anything outside the schema and names the
// field ("subject.cases[1].status: `charged2` is not a case_status").
//
// Thread model: plain values, thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "base/error.h"
#include "policy/ir.h"

namespace firebreak::engine {

using policy::Mask;

struct CaseFacts {
  uint8_t type = 0;
  uint8_t status = 0;
  uint8_t role = 0;
  Mask flags = 0;  // flags recorded on the case (e.g. domestic-abuse on an assault)
};

struct ContextValue {
  bool present = false;
  bool boolean = false;
  int64_t number = 0;  // int, or timestamp as Unix seconds
  Mask mask = 0;       // enum (one bit) or set of enum
  std::string id;
};

struct Request {
  std::string id;  // optional request id, echoed in the decision
  std::string org;
  uint8_t org_type = 0;
  uint8_t user_role = 0;
  uint8_t purpose = 0;  // as declared
  uint8_t action = 0;
  uint8_t legal_basis = 0;
  Mask categories = 0;

  // Three states of the subject: known (`has_subject`), about no person
  // (`no_subject`: the request names nobody, e.g. aggregate statistics), or
  // unknown (neither: the person could not be resolved). REQUIRES: not both.
  bool has_subject = false;
  bool no_subject = false;
  Mask roles = 0;  // the listed roles together with the roles of the cases
  Mask flags = 0;
  uint8_t concern = 0;
  bool regularisation_pending = false;
  bool subject_initiated = false;
  bool consent_to_ie = false;
  std::vector<CaseFacts> cases;
  // The subject's own choice for evidence sent for her application (X1):
  // the organisation id she named ("" when none is recorded) and the
  // categories she chose.
  std::string application_recipient;
  Mask chosen_categories = 0;

  bool has_record = false;
  uint8_t collected_as = 0;
  bool has_record_case = false;
  uint8_t record_case_type = 0;
  uint8_t record_case_status = 0;

  std::vector<ContextValue> context;  // one per schema context variable
};

// A requester's mistake in the wire form: the field's path
// ("subject.cases[1].status") and what is wrong with it.
struct FieldError {
  std::string path;
  std::string message;
};

// Reads the wire form; a mistake is a typed FieldError.
tl::expected<Request, FieldError> ReadRequest(const boost::json::value& json, const policy::Schema& schema);

// Parses the wire form. Errors are `InvalidArgument` whose message starts with
// the field path.
Result<Request> ParseRequest(const boost::json::value& json, const policy::Schema& schema);
Result<Request> ParseRequestText(std::string_view text, const policy::Schema& schema);

// Reads the wire form from JSON text in one pass, without building a JSON
// tree (what `firebreak eval --requests` does per line). It accepts and reads
// exactly what `ReadRequest` over `boost::json::parse` does, and refuses with
// exactly its `FieldError` (for JSON that does not parse: empty path and
// "malformed JSON: <parser's message>"): whatever its fast path is not sure
// of, it hands to that reference reader.
// Thread model: immutable after construction, `Read` may run on many threads;
// `schema` must outlive the reader.
//
//   RequestReader reader(engine->schema());
//   Request req;  // reused line after line: its strings keep their storage
//   if (auto ok = reader.Read(line, &req); !ok) Print(ok.error().path, ok.error().message);
class RequestReader {
 public:
  explicit RequestReader(const policy::Schema& schema);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // On success `*out` is the request; on failure `*out` is unspecified.
  tl::expected<void, FieldError> Read(std::string_view text, Request* out) const;
  // The fast path alone: true when it read `text` into `*out`; false when
  // `text` is not a request it accepts (invalid, or a form it leaves to the
  // reference reader, such as a key given twice). For tests.
  bool ReadFast(std::string_view text, Request* out) const;

  struct Tables;

 private:
  const policy::Schema& schema_;
  std::unique_ptr<const Tables> tables_;
};

// The wire form of `request` (the inverse of ParseRequest).
boost::json::object RequestToJson(const Request& request, const policy::Schema& schema);

}  // namespace firebreak::engine
