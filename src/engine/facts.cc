#include "engine/facts.h"

#include <fmt/format.h>

namespace firebreak::engine {
namespace {

using policy::EnumKind;

// The index of `value` in the schema's `kind`, or an error naming `field`.
Result<uint8_t> Code(const policy::Schema& schema, EnumKind kind, std::string_view field,
                     std::string_view value) {
  int i = schema.Find(kind, value);
  if (i < 0) {
    return tl::make_unexpected(
        Internal(fmt::format("the holder's data has `{}` as {}, which the schema does not know", value, field)));
  }
  return uint8_t(i);
}

}  // namespace

void BindNoSubject(Request* r) {
  r->has_subject = false;
  r->no_subject = true;
  r->roles = r->flags = r->chosen_categories = 0;
  r->cases.clear();
  r->application_recipient.clear();
}

Status BindSubject(const policy::Schema& schema, const SubjectFacts& facts, Request* r) {
  r->has_subject = true;
  r->no_subject = false;
  r->roles = 0;
  r->flags = 0;
  r->cases.clear();
  for (std::string_view role : facts.roles) {
    FB_ASSIGN_OR_RETURN(uint8_t i, Code(schema, EnumKind::kRole, "subject.roles", role));
    r->roles |= Mask{1} << i;
  }
  for (std::string_view flag : facts.flags) {
    if (flag.empty()) continue;
    FB_ASSIGN_OR_RETURN(uint8_t i, Code(schema, EnumKind::kFlag, "subject.flags", flag));
    r->flags |= Mask{1} << i;
  }
  FB_ASSIGN_OR_RETURN(r->concern, Code(schema, EnumKind::kConcern, "subject.immigration_concern", facts.concern));
  r->regularisation_pending = facts.regularisation_pending;
  r->subject_initiated = facts.subject_initiated;
  r->consent_to_ie = facts.consent_to_ie;
  r->application_recipient = std::string(facts.application_recipient);
  r->chosen_categories = 0;
  for (std::string_view c : facts.chosen_categories) {
    FB_ASSIGN_OR_RETURN(uint8_t i, Code(schema, EnumKind::kCategory, "the subject's chosen categories", c));
    r->chosen_categories |= Mask{1} << i;
  }
  r->cases.reserve(facts.cases.size());
  for (const CaseCodes& c : facts.cases) {
    CaseFacts f;
    FB_ASSIGN_OR_RETURN(f.type, Code(schema, EnumKind::kCaseType, "a case's type", c.type));
    FB_ASSIGN_OR_RETURN(f.status, Code(schema, EnumKind::kCaseStatus, "a case's status", c.status));
    FB_ASSIGN_OR_RETURN(f.role, Code(schema, EnumKind::kRole, "a role in a case", c.role));
    for (std::string_view flag : c.flags) {
      if (flag.empty()) continue;
      FB_ASSIGN_OR_RETURN(uint8_t i, Code(schema, EnumKind::kFlag, "a case's flags", flag));
      f.flags |= Mask{1} << i;
    }
    r->roles |= Mask{1} << f.role;
    r->cases.push_back(f);
  }
  return Ok();
}

Status BindRecord(const policy::Schema& schema, std::string_view collected_as, std::string_view case_type,
                  std::string_view case_status, Request* r) {
  r->has_record = true;
  FB_ASSIGN_OR_RETURN(r->collected_as, Code(schema, EnumKind::kRole, "a record's collected_as", collected_as));
  r->has_record_case = !case_type.empty();
  if (r->has_record_case) {
    FB_ASSIGN_OR_RETURN(r->record_case_type, Code(schema, EnumKind::kCaseType, "a record's case type", case_type));
    FB_ASSIGN_OR_RETURN(r->record_case_status,
                        Code(schema, EnumKind::kCaseStatus, "a record's case status", case_status));
  }
  return Ok();
}

}  // namespace firebreak::engine
