#include "policy/ir.h"

namespace firebreak::policy {
namespace {
constexpr const char* kEnumKindNames[kEnumKindCount] = {
    "purpose", "action", "org_type", "user_role", "role", "flag", "category",
    "case_type", "case_status", "concern", "obligation", "legal_basis",
};
}  // namespace

const char* EnumKindName(EnumKind kind) { return kEnumKindNames[size_t(kind)]; }

bool LookupEnumKind(std::string_view name, EnumKind* out) {
  for (size_t i = 0; i < kEnumKindCount; ++i) {
    if (name == kEnumKindNames[i]) {
      *out = static_cast<EnumKind>(i);
      return true;
    }
  }
  return false;
}

int Schema::Find(EnumKind k, std::string_view value) const {
  auto& idx = index_[size_t(k)];
  auto it = idx.find(value);
  return it == idx.end() ? -1 : it->second;
}

Mask Schema::All(EnumKind k) const {
  size_t n = values[size_t(k)].size();
  return n >= 64 ? ~Mask{0} : ((Mask{1} << n) - 1);
}

int Schema::FindContext(std::string_view name) const {
  auto it = context_index_.find(name);
  return it == context_index_.end() ? -1 : it->second;
}

std::vector<std::string> Schema::Names(EnumKind k, Mask m) const {
  std::vector<std::string> out;
  const auto& v = values[size_t(k)];
  for (size_t i = 0; i < v.size(); ++i) {
    if (m & (Mask{1} << i)) out.push_back(v[i]);
  }
  return out;
}

void Schema::BuildIndex() {
  for (size_t k = 0; k < kEnumKindCount; ++k) {
    index_[k].clear();
    for (size_t i = 0; i < values[k].size(); ++i) index_[k].emplace(values[k][i], int(i));
  }
  context_index_.clear();
  for (size_t i = 0; i < context.size(); ++i) context_index_.emplace(context[i].name, int(i));
}

const char* AttrName(Attr a) {
  switch (a) {
    case Attr::kRequesterOrg: return "requester.org";
    case Attr::kRequesterOrgType: return "requester.org_type";
    case Attr::kRequesterRole: return "requester.role";
    case Attr::kPurpose: return "purpose";
    case Attr::kDeclaredPurpose: return "declared_purpose";
    case Attr::kAction: return "action";
    case Attr::kCategories: return "categories";
    case Attr::kLegalBasis: return "legal_basis";
    case Attr::kSubject: return "subject";
    case Attr::kSubjectRoles: return "subject.roles";
    case Attr::kSubjectFlags: return "subject.flags";
    case Attr::kSubjectConcern: return "subject.immigration_concern";
    case Attr::kSubjectRegularisationPending: return "subject.regularisation_pending";
    case Attr::kSubjectSubjectInitiated: return "subject.subject_initiated";
    case Attr::kSubjectConsentToIe: return "subject.consent_to_ie";
    case Attr::kSubjectChosenCategories: return "subject.chosen_categories";
    case Attr::kRequesterNamedBySubject: return "requester.named_by_subject";
    case Attr::kNoSubject: return "subject is none";
    case Attr::kCaseType: return "case.type";
    case Attr::kCaseStatus: return "case.status";
    case Attr::kCaseRole: return "case.role";
    case Attr::kCaseFlags: return "case.flags";
    case Attr::kRecord: return "record";
    case Attr::kRecordCollectedAs: return "record.collected_as";
    case Attr::kRecordCase: return "record.case";
    case Attr::kRecordCaseType: return "record.case.type";
    case Attr::kRecordCaseStatus: return "record.case.status";
    case Attr::kContext: return "context";
  }
  return "?";
}

const char* RuleKindName(RuleKind k) {
  switch (k) {
    case RuleKind::kFirewall: return "firewall";
    case RuleKind::kForbid: return "forbid";
    case RuleKind::kPermit: return "permit";
    case RuleKind::kAgreement: return "agreement";
  }
  return "rule";
}

const char* LayerName(Layer l) {
  switch (l) {
    case Layer::kNational: return "national";
    case Layer::kHolder: return "holder";
    case Layer::kAgreement: return "agreement";
  }
  return "?";
}

}  // namespace firebreak::policy
