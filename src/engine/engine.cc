#include "engine/engine.h"

#include <algorithm>

#include "base/encoding.h"

namespace firebreak::engine {

using policy::Attr;
using policy::Cond;
using policy::CondId;
using policy::CondOp;
using policy::EnumKind;
using policy::PolicySet;

namespace {

constexpr Truth kF = Truth::kFalse;
constexpr Truth kT = Truth::kTrue;
constexpr Truth kU = Truth::kUnknown;

Truth FromBool(bool b) { return b ? kT : kF; }
Truth Negate(Truth t) { return t == kU ? kU : (t == kT ? kF : kT); }

// The values of enum attribute `attr` for which `id` may be other than false:
// used to index rules by purpose and requester type. Conservative: anything
// it cannot see through allows every value.
Mask Possible(const PolicySet& set, CondId id, Attr attr, Mask all) {
  const Cond& c = set.cond(id);
  switch (c.op) {
    case CondOp::kFalse:
      return 0;
    case CondOp::kEnumIn:
      return c.attr == attr ? c.mask : all;
    case CondOp::kAnd: {
      Mask m = all;
      for (CondId k : c.children) m &= Possible(set, k, attr, all);
      return m;
    }
    case CondOp::kOr: {
      Mask m = 0;
      for (CondId k : c.children) m |= Possible(set, k, attr, all);
      return m;
    }
    default:
      return all;
  }
}

}  // namespace

std::shared_ptr<const Engine> Engine::Compile(std::shared_ptr<const PolicySet> set) {
  return std::shared_ptr<const Engine>(new Engine(std::move(set)));
}

namespace {
std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}
}  // namespace

Engine::Engine(std::shared_ptr<const PolicySet> set) : set_(std::move(set)) {
  const policy::Schema& s = *set_->schema;
  for (const policy::Rule& r : set_->rules) {
    json_.rule_names.push_back(JsonString(r.name));
    json_.reasons.push_back(JsonString(r.because));
    json_.unknown_reasons.push_back(JsonString(r.because + " (matched because facts it needs are unknown)"));
  }
  for (const auto& n : set_->normalisations) json_.normalisations.push_back(JsonString(n.name));
  for (size_t k = 0; k < policy::kEnumKindCount; ++k) {
    json_.values.emplace_back();
    for (const std::string& v : s.Values(EnumKind(k))) json_.values.back().push_back(JsonString(v));
  }
  json_.hash = JsonString(set_->hash);
  size_t purposes = s.Values(EnumKind::kPurpose).size();
  org_types_ = s.Values(EnumKind::kOrgType).size();
  legal_bases_ = s.Values(EnumKind::kLegalBasis).size();
  forbids_.resize(purposes * org_types_ * legal_bases_);
  permits_.resize(purposes * org_types_ * legal_bases_);
  Mask all_p = s.All(EnumKind::kPurpose);
  Mask all_o = s.All(EnumKind::kOrgType);
  Mask all_l = s.All(EnumKind::kLegalBasis);
  for (uint32_t i = 0; i < set_->rules.size(); ++i) {
    const policy::Rule& r = set_->rules[i];
    Mask mp = Possible(*set_, r.cond, Attr::kPurpose, all_p);
    Mask mo = Possible(*set_, r.cond, Attr::kRequesterOrgType, all_o);
    Mask ml = Possible(*set_, r.cond, Attr::kLegalBasis, all_l);
    auto& index = policy::IsForbid(r.kind) ? forbids_ : permits_;
    for (size_t p = 0; p < purposes; ++p) {
      if (!(mp >> p & 1)) continue;
      for (size_t o = 0; o < org_types_; ++o) {
        if (!(mo >> o & 1)) continue;
        for (size_t l = 0; l < legal_bases_; ++l) {
          if (ml >> l & 1) index[(p * org_types_ + o) * legal_bases_ + l].push_back(i);
        }
      }
    }
  }
}

const std::vector<uint32_t>& Engine::Bucket(const std::vector<std::vector<uint32_t>>& index,
                                            const Request& r, uint8_t purpose) const {
  return index[(size_t(purpose) * org_types_ + r.org_type) * legal_bases_ + r.legal_basis];
}

Truth Engine::Evaluate(CondId id, const Request& request, uint8_t purpose) const {
  return Eval(id, request, purpose, nullptr);
}

Truth Engine::Eval(CondId id, const Request& r, uint8_t purpose, const CaseFacts* kase) const {
  const Cond& c = set_->cond(id);
  switch (c.op) {
    case CondOp::kTrue: return kT;
    case CondOp::kFalse: return kF;
    case CondOp::kAnd: {
      Truth out = kT;
      for (CondId k : c.children) {
        Truth t = Eval(k, r, purpose, kase);
        if (t == kF) return kF;
        if (t == kU) out = kU;
      }
      return out;
    }
    case CondOp::kOr: {
      Truth out = kF;
      for (CondId k : c.children) {
        Truth t = Eval(k, r, purpose, kase);
        if (t == kT) return kT;
        if (t == kU) out = kU;
      }
      return out;
    }
    case CondOp::kNot:
      return Negate(Eval(c.children[0], r, purpose, kase));
    case CondOp::kSome: {
      if (!r.has_subject) return kU;
      Truth out = kF;
      for (const CaseFacts& each : r.cases) {
        Truth t = Eval(c.children[0], r, purpose, &each);
        if (t == kT) return kT;
        if (t == kU) out = kU;
      }
      return out;
    }
    case CondOp::kEvery: {
      if (!r.has_subject) return kU;
      Truth out = kT;
      for (const CaseFacts& each : r.cases) {
        Truth t = Eval(c.children[0], r, purpose, &each);
        if (t == kF) return kF;
        if (t == kU) out = kU;
      }
      return out;
    }
    case CondOp::kKnown:
      switch (c.attr) {
        case Attr::kSubject: return FromBool(r.has_subject);
        case Attr::kRecord: return FromBool(r.has_record);
        case Attr::kRecordCase: return FromBool(r.has_record && r.has_record_case);
        case Attr::kContext: return FromBool(r.context[c.context].present);
        default: return kT;
      }
    case CondOp::kBoolAttr:
      switch (c.attr) {
        case Attr::kSubjectRegularisationPending:
          return r.has_subject ? FromBool(r.regularisation_pending) : kU;
        case Attr::kSubjectSubjectInitiated:
          return r.has_subject ? FromBool(r.subject_initiated) : kU;
        case Attr::kSubjectConsentToIe:
          return r.has_subject ? FromBool(r.consent_to_ie) : kU;
        case Attr::kRequesterNamedBySubject:
          return r.has_subject ? FromBool(!r.application_recipient.empty() && r.application_recipient == r.org)
                               : kU;
        case Attr::kNoSubject:
          return FromBool(r.no_subject && !r.has_subject);
        case Attr::kContext: {
          const ContextValue& v = r.context[c.context];
          return v.present ? FromBool(v.boolean) : kU;
        }
        default: return kU;
      }
    case CondOp::kEnumIn: {
      int value = -1;
      switch (c.attr) {
        case Attr::kRequesterOrgType: value = r.org_type; break;
        case Attr::kRequesterRole: value = r.user_role; break;
        case Attr::kPurpose: value = purpose; break;
        case Attr::kDeclaredPurpose: value = r.purpose; break;
        case Attr::kAction: value = r.action; break;
        case Attr::kLegalBasis: value = r.legal_basis; break;
        case Attr::kSubjectConcern: value = r.has_subject ? r.concern : -1; break;
        case Attr::kCaseType: value = kase ? kase->type : -1; break;
        case Attr::kCaseStatus: value = kase ? kase->status : -1; break;
        case Attr::kCaseRole: value = kase ? kase->role : -1; break;
        case Attr::kRecordCollectedAs: value = r.has_record ? r.collected_as : -1; break;
        case Attr::kRecordCaseType:
          value = r.has_record && r.has_record_case ? r.record_case_type : -1;
          break;
        case Attr::kRecordCaseStatus:
          value = r.has_record && r.has_record_case ? r.record_case_status : -1;
          break;
        case Attr::kContext: {
          const ContextValue& v = r.context[c.context];
          if (!v.present) return kU;
          return FromBool(v.mask & c.mask);
        }
        default: break;
      }
      if (value < 0) return kU;
      return FromBool(c.mask >> value & 1);
    }
    case CondOp::kSetHasAny:
    case CondOp::kSetHasAll:
    case CondOp::kSetIsEmpty: {
      Mask set = 0;
      switch (c.attr) {
        case Attr::kCategories: set = r.categories; break;
        case Attr::kSubjectRoles:
          if (!r.has_subject) return kU;
          set = r.roles;
          break;
        case Attr::kSubjectFlags:
          if (!r.has_subject) return kU;
          set = r.flags;
          break;
        case Attr::kSubjectChosenCategories:
          if (!r.has_subject) return kU;
          set = r.chosen_categories;
          break;
        case Attr::kCaseFlags:
          if (!kase) return kU;
          set = kase->flags;
          break;
        case Attr::kContext: {
          const ContextValue& v = r.context[c.context];
          if (!v.present) return kU;
          set = v.mask;
          break;
        }
        default: return kU;
      }
      if (c.op == CondOp::kSetHasAny) return FromBool(set & c.mask);
      if (c.op == CondOp::kSetHasAll) return FromBool((set & c.mask) == c.mask);
      return FromBool(set == 0);
    }
    case CondOp::kIdIn: {
      const std::string* value = &r.org;
      if (c.attr == Attr::kContext) {
        const ContextValue& v = r.context[c.context];
        if (!v.present) return kU;
        value = &v.id;
      }
      return FromBool(std::binary_search(c.ids.begin(), c.ids.end(), *value));
    }
    case CondOp::kIntCmp: {
      const ContextValue& v = r.context[c.context];
      if (!v.present) return kU;
      switch (c.cmp) {
        case policy::CmpOp::kEq: return FromBool(v.number == c.number);
        case policy::CmpOp::kNe: return FromBool(v.number != c.number);
        case policy::CmpOp::kLt: return FromBool(v.number < c.number);
        case policy::CmpOp::kLe: return FromBool(v.number <= c.number);
        case policy::CmpOp::kGt: return FromBool(v.number > c.number);
        case policy::CmpOp::kGe: return FromBool(v.number >= c.number);
      }
      return kU;
    }
  }
  return kU;
}

Decision Engine::Decide(const Request& r) const {
  Decision d;
  d.purpose = r.purpose;
  // 1. Normalisation: judge purpose by use. Every applicable normalisation
  //    applies once; disagreeing targets deny.
  for (uint32_t i = 0; i < set_->normalisations.size(); ++i) {
    const policy::Normalisation& n = set_->normalisations[i];
    if (!(n.from >> r.purpose & 1)) continue;
    if (Eval(n.cond, r, r.purpose, nullptr) == kF) continue;
    if (!d.normalisations.empty() && n.to != d.purpose) d.conflicting_normalisations = true;
    d.purpose = static_cast<uint8_t>(n.to);
    d.normalisations.push_back(i);
  }
  if (d.conflicting_normalisations) {
    // Which target came last depends on order; report the declared purpose
    // so the answer is the same however the rules are laid out.
    d.purpose = r.purpose;
    d.withheld = r.categories;
    return d;
  }
  // 2. Any matching forbid denies (matching on true or unknown: fail closed).
  for (uint32_t i : Bucket(forbids_, r, d.purpose)) {
    const policy::Rule& rule = set_->rules[i];
    Truth t = Eval(rule.cond, r, d.purpose, nullptr);
    if (t == kF) continue;
    d.rules.push_back(i);
    d.obligations |= rule.obligations;
    if (t == kU) d.unknown_rules.push_back(i);
  }
  if (!d.rules.empty()) {
    d.withheld = r.categories;
    return d;
  }
  // 3. Matching permits grant categories; any of them may withhold some.
  Mask grant = 0, withhold = 0;
  for (uint32_t i : Bucket(permits_, r, d.purpose)) {
    const policy::Rule& rule = set_->rules[i];
    if (Eval(rule.cond, r, d.purpose, nullptr) != kT) continue;
    d.rules.push_back(i);
    grant |= rule.grant;
    if (rule.grant_chosen && r.has_subject) grant |= r.chosen_categories;
    withhold |= rule.withhold;
    d.obligations |= rule.obligations;
  }
  if (d.rules.empty()) {
    d.withheld = r.categories;
    return d;  // 4. No agreement covers this request.
  }
  d.permit = true;
  d.disclosed = r.categories & grant & ~withhold;
  d.withheld = r.categories & ~d.disclosed;
  return d;
}

void Engine::Explain(const Decision& d, std::vector<std::string>* rules,
                     std::vector<std::string>* reasons) const {
  if (d.conflicting_normalisations) {
    rules->emplace_back("firebreak.conflicting_normalisations");
    if (reasons) reasons->emplace_back("The request matches normalisations that judge its purpose differently.");
  } else if (d.rules.empty()) {
    if (reasons) reasons->emplace_back("No agreement covers this request.");
  }
  for (uint32_t i : d.rules) {
    const policy::Rule& rule = set_->rules[i];
    rules->emplace_back(rule.name);
    if (!reasons) continue;
    bool unknown = std::find(d.unknown_rules.begin(), d.unknown_rules.end(), i) != d.unknown_rules.end();
    reasons->emplace_back(unknown ? rule.because + " (matched because facts it needs are unknown)"
                                  : rule.because);
  }
}

boost::json::object Engine::ToJson(const Decision& d, const Request& r) const {
  namespace json = boost::json;
  const policy::Schema& s = *set_->schema;
  auto names = [&](EnumKind k, Mask m) {
    json::array a;
    for (const std::string& n : s.Names(k, m)) a.emplace_back(n);
    return a;
  };
  json::object o;
  if (!r.id.empty()) o["id"] = r.id;
  o["decision"] = d.permit ? "permit" : "deny";
  o["disclosed"] = names(EnumKind::kCategory, d.disclosed);
  o["withheld"] = names(EnumKind::kCategory, d.withheld);
  std::vector<std::string> rule_names, reason_texts;
  Explain(d, &rule_names, &reason_texts);
  json::array rules, reasons;
  for (std::string& n : rule_names) rules.emplace_back(std::move(n));
  for (std::string& n : reason_texts) reasons.emplace_back(std::move(n));
  o["rules"] = std::move(rules);
  o["reasons"] = std::move(reasons);
  o["obligations"] = names(EnumKind::kObligation, d.obligations);
  o["purpose"] = s.Values(EnumKind::kPurpose)[d.purpose];
  o["declared_purpose"] = s.Values(EnumKind::kPurpose)[r.purpose];
  if (!d.normalisations.empty()) {
    json::array n;
    for (uint32_t i : d.normalisations) n.emplace_back(set_->normalisations[i].name);
    o["normalised_by"] = std::move(n);
  }
  o["policy_hash"] = set_->hash;
  return o;
}

namespace {

// `values` already escaped.
void AppendNames(const std::vector<std::string>& values, Mask m, std::string* out) {
  out->push_back('[');
  bool first = true;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!(m & (Mask{1} << i))) continue;
    if (!first) out->push_back(',');
    first = false;
    out->append(values[i]);
  }
  out->push_back(']');
}

}  // namespace

void Engine::AppendJson(const Decision& d, const Request& r, std::string* out) const {
  const auto& values = json_.values;
  out->push_back('{');
  if (!r.id.empty()) {
    out->append("\"id\":");
    AppendJsonString(r.id, out);
    out->push_back(',');
  }
  out->append(d.permit ? "\"decision\":\"permit\",\"disclosed\":" : "\"decision\":\"deny\",\"disclosed\":");
  AppendNames(values[size_t(EnumKind::kCategory)], d.disclosed, out);
  out->append(",\"withheld\":");
  AppendNames(values[size_t(EnumKind::kCategory)], d.withheld, out);
  // The rules and reasons as Explain gives them.
  out->append(",\"rules\":[");
  bool first = true;
  if (d.conflicting_normalisations) {
    out->append("\"firebreak.conflicting_normalisations\"");
    first = false;
  }
  for (uint32_t i : d.rules) {
    if (!first) out->push_back(',');
    first = false;
    out->append(json_.rule_names[i]);
  }
  out->append("],\"reasons\":[");
  first = true;
  if (d.conflicting_normalisations) {
    out->append("\"The request matches normalisations that judge its purpose differently.\"");
    first = false;
  } else if (d.rules.empty()) {
    out->append("\"No agreement covers this request.\"");
    first = false;
  }
  for (uint32_t i : d.rules) {
    if (!first) out->push_back(',');
    first = false;
    bool unknown = std::find(d.unknown_rules.begin(), d.unknown_rules.end(), i) != d.unknown_rules.end();
    out->append(unknown ? json_.unknown_reasons[i] : json_.reasons[i]);
  }
  out->append("],\"obligations\":");
  AppendNames(values[size_t(EnumKind::kObligation)], d.obligations, out);
  out->append(",\"purpose\":");
  out->append(values[size_t(EnumKind::kPurpose)][d.purpose]);
  out->append(",\"declared_purpose\":");
  out->append(values[size_t(EnumKind::kPurpose)][r.purpose]);
  if (!d.normalisations.empty()) {
    out->append(",\"normalised_by\":[");
    for (size_t k = 0; k < d.normalisations.size(); ++k) {
      if (k) out->push_back(',');
      out->append(json_.normalisations[d.normalisations[k]]);
    }
    out->push_back(']');
  }
  out->append(",\"policy_hash\":");
  out->append(json_.hash);
  out->push_back('}');
}

}  // namespace firebreak::engine
