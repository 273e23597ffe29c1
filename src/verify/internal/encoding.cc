#include "verify/internal/encoding.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "policy/parser.h"

namespace firebreak::verify::internal {

using engine::Request;
using policy::Attr;
using policy::CondId;
using policy::CondOp;
using policy::EnumKind;
using policy::Mask;
using policy::ValueType;

namespace {

unsigned WidthFor(size_t values) {
  // Indices 0 … values-1 need this many bits (at least one).
  unsigned w = 1;
  while (w < 64 && (uint64_t{1} << w) < values) ++w;
  return w;
}

z3::expr Or(z3::context& c, const std::vector<z3::expr>& v) {
  if (v.empty()) return c.bool_val(false);
  if (v.size() == 1) return v[0];
  z3::expr_vector ev(c);
  for (const z3::expr& e : v) ev.push_back(e);
  return z3::mk_or(ev);
}

z3::expr And(z3::context& c, const std::vector<z3::expr>& v) {
  if (v.empty()) return c.bool_val(true);
  if (v.size() == 1) return v[0];
  z3::expr_vector ev(c);
  for (const z3::expr& e : v) ev.push_back(e);
  return z3::mk_and(ev);
}

bool ModelBool(const z3::model& m, const z3::expr& e) { return m.eval(e, true).is_true(); }

uint64_t ModelBv(const z3::model& m, const z3::expr& e) {
  return m.eval(e, true).get_numeral_uint64();
}

int64_t ModelInt(const z3::model& m, const z3::expr& e) {
  return m.eval(e, true).get_numeral_int64();
}

// The range of timestamps the wire form can carry ("0000-01-01T00:00:00Z" to
// "9999-12-31T23:59:59Z").
std::pair<int64_t, int64_t> TimestampRange() {
  int64_t lo = 0, hi = 0;
  policy::ParseTimestamp("0000-01-01T00:00:00Z", &lo);
  policy::ParseTimestamp("9999-12-31T23:59:59Z", &hi);
  return {lo, hi};
}

void CollectQuantifiers(const policy::PolicySet& set, CondId id, int pc,
                        std::set<std::pair<CondId, int>>* out) {
  const policy::Cond& c = set.cond(id);
  if (c.op == CondOp::kSome || c.op == CondOp::kEvery) out->insert({id, pc});
  for (CondId k : c.children) CollectQuantifiers(set, k, pc, out);
}

}  // namespace

std::vector<std::string> CollectIds(const std::vector<const policy::PolicySet*>& sets) {
  std::set<std::string> ids;
  for (const policy::PolicySet* s : sets) {
    for (const policy::Cond& c : s->conds) {
      if (c.op == CondOp::kIdIn) ids.insert(c.ids.begin(), c.ids.end());
    }
  }
  return {ids.begin(), ids.end()};
}

std::vector<std::pair<CondId, PurposeContext>> QuantifierList(const policy::PolicySet& set) {
  std::set<std::pair<CondId, int>> q;
  for (const auto& n : set.normalisations) CollectQuantifiers(set, n.cond, 0, &q);
  for (const auto& r : set.rules) CollectQuantifiers(set, r.cond, 1, &q);
  for (const auto& g : set.guarantees) CollectQuantifiers(set, g.cond, 1, &q);
  std::vector<std::pair<CondId, PurposeContext>> out;
  for (auto [id, pc] : q) out.emplace_back(id, PurposeContext(pc));
  return out;
}

size_t QuantifierInstances(const policy::PolicySet& set) { return QuantifierList(set).size(); }

// ---------------------------------------------------------------------------
// RequestVars

RequestVars::RequestVars(z3::context& ctx, const policy::Schema& schema, size_t slot_count,
                         std::vector<std::string> ids)
    : org(ctx), org_type(ctx), user_role(ctx), purpose(ctx), action(ctx), legal_basis(ctx),
      subject(ctx), no_subject(ctx), concern(ctx), regularisation_pending(ctx), subject_initiated(ctx),
      consent_to_ie(ctx), named_by_subject(ctx), record(ctx), collected_as(ctx), record_case(ctx),
      record_case_type(ctx), record_case_status(ctx), ctx_(&ctx), schema_(&schema),
      ids_(std::move(ids)) {
  for (size_t k = 0; k < policy::kEnumKindCount; ++k) {
    widths_[k] = WidthFor(schema.values[k].size());
  }
  id_width_ = WidthFor(ids_.size() + 1);
  org = ctx.bv_const("requester.org", id_width_);
  org_type = Enum(EnumKind::kOrgType, "requester.org_type");
  user_role = Enum(EnumKind::kUserRole, "requester.role");
  purpose = Enum(EnumKind::kPurpose, "declared_purpose");
  action = Enum(EnumKind::kAction, "action");
  legal_basis = Enum(EnumKind::kLegalBasis, "legal_basis");
  categories = Set(EnumKind::kCategory, "categories");
  subject = ctx.bool_const("subject.known");
  no_subject = ctx.bool_const("subject.none");
  named_by_subject = ctx.bool_const("requester.named_by_subject");
  chosen = Set(EnumKind::kCategory, "subject.chosen_categories");
  roles = Set(EnumKind::kRole, "subject.roles");
  flags = Set(EnumKind::kFlag, "subject.flags");
  concern = Enum(EnumKind::kConcern, "subject.immigration_concern");
  regularisation_pending = ctx.bool_const("subject.regularisation_pending");
  subject_initiated = ctx.bool_const("subject.subject_initiated");
  consent_to_ie = ctx.bool_const("subject.consent_to_ie");
  for (size_t j = 0; j < slot_count; ++j) {
    std::string p = fmt::format("case{}.", j);
    slots.push_back(CaseSlot{ctx.bool_const((p + "present").c_str()),
                             Enum(EnumKind::kCaseType, p + "type"),
                             Enum(EnumKind::kCaseStatus, p + "status"),
                             Enum(EnumKind::kRole, p + "role"),
                             Set(EnumKind::kFlag, p + "flags")});
  }
  record = ctx.bool_const("record.known");
  collected_as = Enum(EnumKind::kRole, "record.collected_as");
  record_case = ctx.bool_const("record.case.known");
  record_case_type = Enum(EnumKind::kCaseType, "record.case.type");
  record_case_status = Enum(EnumKind::kCaseStatus, "record.case.status");
  for (const policy::ContextVar& var : schema.context) {
    std::string p = "context." + var.name + ".";
    ContextVars cv{ctx.bool_const((p + "present").c_str()), ctx.bool_val(false), ctx.int_val(0),
                   ctx.bv_val(0, 1), {}};
    switch (var.type) {
      case ValueType::kBool: cv.boolean = ctx.bool_const((p + "value").c_str()); break;
      case ValueType::kInt:
      case ValueType::kTimestamp: cv.number = ctx.int_const((p + "value").c_str()); break;
      case ValueType::kEnum: cv.value = Enum(var.kind, p + "value"); break;
      case ValueType::kId: cv.value = ctx.bv_const((p + "value").c_str(), id_width_); break;
      case ValueType::kEnumSet: cv.bits = Set(var.kind, p + "value"); break;
    }
    context.push_back(std::move(cv));
  }
}

z3::expr RequestVars::Enum(EnumKind k, const std::string& name) {
  return ctx_->bv_const(name.c_str(), widths_[size_t(k)]);
}

std::vector<z3::expr> RequestVars::Set(EnumKind k, const std::string& name) {
  std::vector<z3::expr> bits;
  for (const std::string& v : schema_->Values(k)) {
    bits.push_back(ctx_->bool_const(fmt::format("{}[{}]", name, v).c_str()));
  }
  return bits;
}

z3::expr RequestVars::EnumConst(EnumKind k, unsigned value) const {
  return ctx_->bv_val(uint64_t{value}, widths_[size_t(k)]);
}

z3::expr RequestVars::IdConst(unsigned index) const {
  return ctx_->bv_val(uint64_t{index}, id_width_);
}

z3::expr RequestVars::EnumIn(EnumKind k, const z3::expr& v, Mask mask) const {
  size_t n = schema_->Values(k).size();
  mask &= schema_->All(k);
  // Spell out the smaller side; the domain keeps `v` below n.
  bool negate = size_t(std::popcount(mask)) * 2 > n;
  Mask m = negate ? (schema_->All(k) & ~mask) : mask;
  std::vector<z3::expr> eq;
  for (unsigned i = 0; i < n; ++i) {
    if (m >> i & 1) eq.push_back(v == EnumConst(k, i));
  }
  z3::expr any = Or(*ctx_, eq);
  return negate ? !any : any;
}

unsigned RequestVars::IdIndex(const std::string& id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it != ids_.end() && *it == id) return unsigned(it - ids_.begin());
  return unsigned(ids_.size());
}

std::string RequestVars::OtherId(const std::string& base) const {
  std::string s = base;
  while (std::binary_search(ids_.begin(), ids_.end(), s)) s += "-x";
  return s;
}

z3::expr RequestVars::Domain() const {
  z3::context& c = *ctx_;
  std::vector<z3::expr> d;
  auto range = [&](EnumKind k, const z3::expr& v) {
    size_t n = schema_->Values(k).size();
    if (n < (uint64_t{1} << widths_[size_t(k)])) d.push_back(z3::ule(v, EnumConst(k, unsigned(n - 1))));
  };
  auto none = [&](const std::vector<z3::expr>& bits) {
    std::vector<z3::expr> n;
    for (const z3::expr& b : bits) n.push_back(!b);
    return And(c, n);
  };
  if (ids_.size() + 1 < (uint64_t{1} << id_width_)) {
    d.push_back(z3::ule(org, IdConst(unsigned(ids_.size()))));
  }
  range(EnumKind::kOrgType, org_type);
  range(EnumKind::kUserRole, user_role);
  range(EnumKind::kPurpose, purpose);
  range(EnumKind::kAction, action);
  range(EnumKind::kLegalBasis, legal_basis);
  range(EnumKind::kConcern, concern);
  // Without a subject, its facts are at their defaults (nothing reads them).
  d.push_back(z3::implies(!subject, none(roles) && none(flags) && concern == EnumConst(EnumKind::kConcern, 0) &&
                                        !regularisation_pending && !subject_initiated && !consent_to_ie &&
                                        !named_by_subject && none(chosen)));
  d.push_back(z3::implies(no_subject, !subject));
  for (size_t j = 0; j < slots.size(); ++j) {
    const CaseSlot& s = slots[j];
    range(EnumKind::kCaseType, s.type);
    range(EnumKind::kCaseStatus, s.status);
    range(EnumKind::kRole, s.role);
    d.push_back(z3::implies(s.present, subject));
    d.push_back(z3::implies(!s.present, s.type == EnumConst(EnumKind::kCaseType, 0) &&
                                            s.status == EnumConst(EnumKind::kCaseStatus, 0) &&
                                            s.role == EnumConst(EnumKind::kRole, 0) && none(s.flags)));
    // Present cases come first (the list order does not matter).
    if (j + 1 < slots.size()) d.push_back(z3::implies(slots[j + 1].present, s.present));
    // subject.roles is the listed roles together with the roles of the cases.
    for (unsigned i = 0; i < roles.size(); ++i) {
      d.push_back(z3::implies(s.present && s.role == EnumConst(EnumKind::kRole, i), roles[i]));
    }
  }
  range(EnumKind::kRole, collected_as);
  range(EnumKind::kCaseType, record_case_type);
  range(EnumKind::kCaseStatus, record_case_status);
  d.push_back(z3::implies(!record, collected_as == EnumConst(EnumKind::kRole, 0) && !record_case));
  d.push_back(z3::implies(!record_case, record_case_type == EnumConst(EnumKind::kCaseType, 0) &&
                                            record_case_status == EnumConst(EnumKind::kCaseStatus, 0)));
  auto [ts_lo, ts_hi] = TimestampRange();
  for (size_t i = 0; i < context.size(); ++i) {
    const policy::ContextVar& var = schema_->context[i];
    const ContextVars& cv = context[i];
    if (var.required) d.push_back(cv.present);
    switch (var.type) {
      case ValueType::kBool:
        d.push_back(z3::implies(!cv.present, !cv.boolean));
        break;
      case ValueType::kInt:
        d.push_back(cv.number >= c.int_val(std::numeric_limits<int64_t>::min()));
        d.push_back(cv.number <= c.int_val(std::numeric_limits<int64_t>::max()));
        d.push_back(z3::implies(!cv.present, cv.number == c.int_val(0)));
        break;
      case ValueType::kTimestamp:
        d.push_back(cv.number >= c.int_val(ts_lo));
        d.push_back(cv.number <= c.int_val(ts_hi));
        d.push_back(z3::implies(!cv.present, cv.number == c.int_val(0)));
        break;
      case ValueType::kEnum:
        range(var.kind, cv.value);
        d.push_back(z3::implies(!cv.present, cv.value == EnumConst(var.kind, 0)));
        break;
      case ValueType::kId:
        if (ids_.size() + 1 < (uint64_t{1} << id_width_)) {
          d.push_back(z3::ule(cv.value, IdConst(unsigned(ids_.size()))));
        }
        d.push_back(z3::implies(!cv.present, cv.value == IdConst(0)));
        break;
      case ValueType::kEnumSet:
        d.push_back(z3::implies(!cv.present, none(cv.bits)));
        break;
    }
  }
  return And(c, d);
}

Result<Request> RequestVars::Extract(const z3::model& m) const {
  Request r;
  bool bad = false;
  auto en = [&](EnumKind k, const z3::expr& e) -> uint8_t {
    uint64_t v = ModelBv(m, e);
    if (v >= schema_->Values(k).size()) {
      bad = true;
      return 0;
    }
    return static_cast<uint8_t>(v);
  };
  auto set = [&](const std::vector<z3::expr>& bits) {
    Mask mask = 0;
    for (size_t i = 0; i < bits.size(); ++i) {
      if (ModelBool(m, bits[i])) mask |= Mask{1} << i;
    }
    return mask;
  };
  auto id = [&](const z3::expr& e, const std::string& other) {
    uint64_t v = ModelBv(m, e);
    if (v > ids_.size()) bad = true;
    return v < ids_.size() ? ids_[v] : OtherId(other);
  };
  r.org = id(org, "org-other");
  r.org_type = en(EnumKind::kOrgType, org_type);
  r.user_role = en(EnumKind::kUserRole, user_role);
  r.purpose = en(EnumKind::kPurpose, purpose);
  r.action = en(EnumKind::kAction, action);
  r.legal_basis = en(EnumKind::kLegalBasis, legal_basis);
  r.categories = set(categories);
  r.has_subject = ModelBool(m, subject);
  r.no_subject = !r.has_subject && ModelBool(m, no_subject);
  if (r.has_subject) {
    r.chosen_categories = set(chosen);
    // Named: she named this requester. Otherwise a choice (if any) names
    // some other body.
    if (ModelBool(m, named_by_subject)) {
      r.application_recipient = r.org;
    } else if (r.chosen_categories) {
      r.application_recipient = OtherId("recipient-other");
    }
    r.roles = set(roles);
    r.flags = set(flags);
    r.concern = en(EnumKind::kConcern, concern);
    r.regularisation_pending = ModelBool(m, regularisation_pending);
    r.subject_initiated = ModelBool(m, subject_initiated);
    r.consent_to_ie = ModelBool(m, consent_to_ie);
    for (const CaseSlot& s : slots) {
      if (!ModelBool(m, s.present)) continue;
      engine::CaseFacts f;
      f.type = en(EnumKind::kCaseType, s.type);
      f.status = en(EnumKind::kCaseStatus, s.status);
      f.role = en(EnumKind::kRole, s.role);
      f.flags = set(s.flags);
      if (!(r.roles >> f.role & 1)) bad = true;  // Domain() guarantees roles ⊇ case roles
      r.cases.push_back(f);
    }
  }
  r.has_record = ModelBool(m, record);
  if (r.has_record) {
    r.collected_as = en(EnumKind::kRole, collected_as);
    r.has_record_case = ModelBool(m, record_case);
    if (r.has_record_case) {
      r.record_case_type = en(EnumKind::kCaseType, record_case_type);
      r.record_case_status = en(EnumKind::kCaseStatus, record_case_status);
    }
  }
  r.context.resize(context.size());
  for (size_t i = 0; i < context.size(); ++i) {
    const policy::ContextVar& var = schema_->context[i];
    const ContextVars& cv = context[i];
    engine::ContextValue& out = r.context[i];
    out.present = ModelBool(m, cv.present);
    if (!out.present) continue;
    switch (var.type) {
      case ValueType::kBool: out.boolean = ModelBool(m, cv.boolean); break;
      case ValueType::kInt:
      case ValueType::kTimestamp: out.number = ModelInt(m, cv.number); break;
      case ValueType::kEnum: out.mask = Mask{1} << en(var.kind, cv.value); break;
      case ValueType::kId: out.id = id(cv.value, var.name + "-other"); break;
      case ValueType::kEnumSet: out.mask = set(cv.bits); break;
    }
  }
  if (bad) return tl::make_unexpected(Internal("the solver's model lies outside the request domain"));
  return r;
}

std::vector<std::pair<z3::expr, z3::expr>> RequestVars::Bindings(const Request& r) const {
  z3::context& c = *ctx_;
  std::vector<std::pair<z3::expr, z3::expr>> b;
  auto en = [&](const z3::expr& v, EnumKind k, unsigned value) { b.emplace_back(v, EnumConst(k, value)); };
  auto set = [&](const std::vector<z3::expr>& bits, Mask m) {
    for (size_t i = 0; i < bits.size(); ++i) b.emplace_back(bits[i], c.bool_val(m >> i & 1));
  };
  auto boolean = [&](const z3::expr& v, bool x) { b.emplace_back(v, c.bool_val(x)); };
  b.emplace_back(org, IdConst(IdIndex(r.org)));
  en(org_type, EnumKind::kOrgType, r.org_type);
  en(user_role, EnumKind::kUserRole, r.user_role);
  en(purpose, EnumKind::kPurpose, r.purpose);
  en(action, EnumKind::kAction, r.action);
  en(legal_basis, EnumKind::kLegalBasis, r.legal_basis);
  set(categories, r.categories);
  bool s = r.has_subject;
  boolean(subject, s);
  boolean(no_subject, !s && r.no_subject);
  boolean(named_by_subject, s && !r.application_recipient.empty() && r.application_recipient == r.org);
  set(chosen, s ? r.chosen_categories : 0);
  set(roles, s ? r.roles : 0);
  set(flags, s ? r.flags : 0);
  en(concern, EnumKind::kConcern, s ? r.concern : 0);
  boolean(regularisation_pending, s && r.regularisation_pending);
  boolean(subject_initiated, s && r.subject_initiated);
  boolean(consent_to_ie, s && r.consent_to_ie);
  for (size_t j = 0; j < slots.size(); ++j) {
    bool present = s && j < r.cases.size();
    boolean(slots[j].present, present);
    en(slots[j].type, EnumKind::kCaseType, present ? r.cases[j].type : 0);
    en(slots[j].status, EnumKind::kCaseStatus, present ? r.cases[j].status : 0);
    en(slots[j].role, EnumKind::kRole, present ? r.cases[j].role : 0);
    set(slots[j].flags, present ? r.cases[j].flags : 0);
  }
  bool rec = r.has_record, rc = rec && r.has_record_case;
  boolean(record, rec);
  en(collected_as, EnumKind::kRole, rec ? r.collected_as : 0);
  boolean(record_case, rc);
  en(record_case_type, EnumKind::kCaseType, rc ? r.record_case_type : 0);
  en(record_case_status, EnumKind::kCaseStatus, rc ? r.record_case_status : 0);
  for (size_t i = 0; i < context.size(); ++i) {
    const policy::ContextVar& var = schema_->context[i];
    const ContextVars& cv = context[i];
    engine::ContextValue v = i < r.context.size() ? r.context[i] : engine::ContextValue{};
    boolean(cv.present, v.present);
    switch (var.type) {
      case ValueType::kBool: boolean(cv.boolean, v.present && v.boolean); break;
      case ValueType::kInt:
      case ValueType::kTimestamp: b.emplace_back(cv.number, c.int_val(v.present ? v.number : 0)); break;
      case ValueType::kEnum:
        en(cv.value, var.kind, v.present && v.mask ? unsigned(std::countr_zero(v.mask)) : 0);
        break;
      case ValueType::kId: b.emplace_back(cv.value, IdConst(v.present ? IdIndex(v.id) : 0)); break;
      case ValueType::kEnumSet: set(cv.bits, v.present ? v.mask : 0); break;
    }
  }
  return b;
}

std::vector<z3::expr> RequestVars::Preferences() const {
  z3::context& c = *ctx_;
  std::vector<z3::expr> p;
  p.push_back(Or(c, categories));  // ask for something
  p.push_back(!record_case);
  for (size_t j = slots.size(); j-- > 0;) p.push_back(!slots[j].present);
  for (const z3::expr& f : flags) p.push_back(!f);
  for (const CaseSlot& s : slots) {
    for (const z3::expr& f : s.flags) p.push_back(!f);
  }
  p.push_back(!regularisation_pending);
  p.push_back(!subject_initiated);
  p.push_back(!consent_to_ie);
  p.push_back(!named_by_subject);
  for (const z3::expr& k : chosen) p.push_back(!k);
  p.push_back(concern == EnumConst(EnumKind::kConcern, 0));
  p.push_back(!record);
  for (size_t i = 0; i < context.size(); ++i) {
    if (!schema_->context[i].required) p.push_back(!context[i].present);
  }
  // Later values are given up last, so the first schema values are used.
  for (size_t i = roles.size(); i-- > 0;) p.push_back(!roles[i]);
  for (size_t i = categories.size(); i-- > 0;) p.push_back(!categories[i]);
  return p;
}

// ---------------------------------------------------------------------------
// SetEncoding

SetEncoding::SetEncoding(const RequestVars& vars, const policy::PolicySet& set)
    : effective_purpose(vars.ctx()), conflict(vars.ctx()), any_forbid(vars.ctx()),
      any_permit(vars.ctx()), denied_by_forbid(vars.ctx()), permit(vars.ctx()), v_(&vars),
      set_(&set), c_(vars.ctx()) {
  const policy::Schema& s = *set.schema;
  // 1. Normalisation (Engine::Decide step 1): a normalisation applies when its
  //    `from` holds the declared purpose and its condition, read with the
  //    declared purpose, is true or unknown. Differing targets conflict.
  std::map<int, std::vector<z3::expr>> by_target;
  for (const policy::Normalisation& n : set.normalisations) {
    z3::expr applies = v_->EnumIn(EnumKind::kPurpose, v_->purpose, n.from) &&
                       !Cond(n.cond, PurposeContext::kDeclared).f;
    norm_applies.push_back(applies);
    by_target[n.to].push_back(applies);
  }
  std::vector<z3::expr> targets;
  for (auto& [to, apps] : by_target) targets.push_back(Or(c_, apps));
  std::vector<z3::expr> pairs;
  for (size_t i = 0; i < targets.size(); ++i) {
    for (size_t j = i + 1; j < targets.size(); ++j) pairs.push_back(targets[i] && targets[j]);
  }
  conflict = Or(c_, pairs);
  effective_purpose = v_->purpose;
  for (size_t i = set.normalisations.size(); i-- > 0;) {
    effective_purpose = z3::ite(norm_applies[i],
                                v_->EnumConst(EnumKind::kPurpose, unsigned(set.normalisations[i].to)),
                                effective_purpose);
  }
  // On a conflict the engine reports the declared purpose (the request is
  // denied either way), so the answer does not depend on rule order.
  effective_purpose = z3::ite(conflict, v_->purpose, effective_purpose);
  // 2–3. Forbids match on true or unknown, permits on true only.
  std::vector<z3::expr> forbids, permits;
  size_t ncat = s.Values(EnumKind::kCategory).size();
  size_t nobl = s.Values(EnumKind::kObligation).size();
  std::vector<std::vector<z3::expr>> grant(ncat), withhold(ncat), fobl(nobl), pobl(nobl);
  for (const policy::Rule& r : set.rules) {
    Tri t = Cond(r.cond, PurposeContext::kEffective);
    bool forbid = policy::IsForbid(r.kind);
    z3::expr m = forbid ? !t.f : t.t;
    rule_matches.push_back(m);
    rule_unknown.push_back(forbid ? (!t.f && !t.t) : c_.bool_val(false));
    (forbid ? forbids : permits).push_back(m);
    for (size_t o = 0; o < nobl; ++o) {
      if (r.obligations >> o & 1) (forbid ? fobl : pobl)[o].push_back(m);
    }
    if (forbid) continue;
    for (size_t k = 0; k < ncat; ++k) {
      if (r.grant >> k & 1) grant[k].push_back(m);
      if (r.grant_chosen) grant[k].push_back(m && v_->chosen[k]);
      if (r.withhold >> k & 1) withhold[k].push_back(m);
    }
  }
  any_forbid = Or(c_, forbids);
  any_permit = Or(c_, permits);
  denied_by_forbid = !conflict && any_forbid;
  permit = !conflict && !any_forbid && any_permit;
  for (size_t k = 0; k < ncat; ++k) {
    z3::expr d = permit && v_->categories[k] && Or(c_, grant[k]) && !Or(c_, withhold[k]);
    disclosed.push_back(d);
    withheld.push_back(v_->categories[k] && !d);
  }
  for (size_t o = 0; o < nobl; ++o) {
    obligations.push_back((denied_by_forbid && Or(c_, fobl[o])) || (permit && Or(c_, pobl[o])));
  }
}

Tri SetEncoding::Cond(CondId id, PurposeContext pc) { return Encode(id, pc, -1); }

z3::expr SetEncoding::GuaranteeApplies(size_t g) {
  return !Cond(set_->guarantees[g].cond, PurposeContext::kEffective).f;
}

z3::expr SetEncoding::Violation(size_t g) {
  const policy::Guarantee& gu = set_->guarantees[g];
  z3::expr applies = GuaranteeApplies(g);
  switch (gu.kind) {
    case policy::GuaranteeKind::kNeverPermit:
      return applies && permit;
    case policy::GuaranteeKind::kNeverDisclose: {
      std::vector<z3::expr> any;
      for (size_t k = 0; k < disclosed.size(); ++k) {
        if (gu.mask >> k & 1) any.push_back(disclosed[k]);
      }
      return applies && Or(c_, any);
    }
    case policy::GuaranteeKind::kAlwaysObligations: {
      std::vector<z3::expr> missing;
      for (size_t o = 0; o < obligations.size(); ++o) {
        if (gu.mask >> o & 1) missing.push_back(!obligations[o]);
      }
      return applies && permit && Or(c_, missing);
    }
    case policy::GuaranteeKind::kAlwaysPermit:
      // Only where the condition is true: a permit is never owed on unknown facts.
      return Cond(gu.cond, PurposeContext::kEffective).t && !permit;
  }
  return c_.bool_val(false);
}

Tri SetEncoding::Known(const z3::expr& known, const z3::expr& value) const {
  return Tri{known && value, known && !value};
}

Tri SetEncoding::Encode(CondId id, PurposeContext pc, int slot) {
  auto key = std::make_tuple(id, int(pc), slot);
  if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  const policy::Cond& c = set_->cond(id);
  const RequestVars& v = *v_;
  z3::expr T = c_.bool_val(true), F = c_.bool_val(false);
  Tri unknown{F, F};
  auto context_bits = [&](const ContextVars& cv, const policy::ContextVar& var) {
    // The engine reads a context value's mask: one bit for an enum, the set
    // for a set, nothing for other types.
    std::vector<z3::expr> bits;
    size_t n = var.type == ValueType::kEnum || var.type == ValueType::kEnumSet
                   ? v.schema().Values(var.kind).size()
                   : 0;
    for (size_t i = 0; i < n; ++i) {
      bits.push_back(var.type == ValueType::kEnumSet ? cv.bits[i]
                                                     : cv.value == v.EnumConst(var.kind, unsigned(i)));
    }
    return bits;
  };
  auto set_op = [&](const std::vector<z3::expr>& bits) {
    std::vector<z3::expr> sel;
    for (size_t i = 0; i < bits.size(); ++i) {
      if (c.mask >> i & 1) sel.push_back(bits[i]);
    }
    std::vector<z3::expr> none;
    for (const z3::expr& b : bits) none.push_back(!b);
    switch (c.op) {
      case CondOp::kSetHasAny: return Or(c_, sel);
      case CondOp::kSetHasAll: {
        // A mask bit outside the value range can never be held.
        if (bits.size() < 64 && (c.mask >> bits.size()) != 0) return F;
        return And(c_, sel);
      }
      default: return And(c_, none);
    }
  };
  Tri out = unknown;
  switch (c.op) {
    case CondOp::kTrue: out = {T, F}; break;
    case CondOp::kFalse: out = {F, T}; break;
    case CondOp::kAnd:
    case CondOp::kOr: {
      std::vector<z3::expr> ts, fs;
      for (CondId k : c.children) {
        Tri t = Encode(k, pc, slot);
        ts.push_back(t.t);
        fs.push_back(t.f);
      }
      out = c.op == CondOp::kAnd ? Tri{And(c_, ts), Or(c_, fs)} : Tri{Or(c_, ts), And(c_, fs)};
      break;
    }
    case CondOp::kNot: {
      Tri t = Encode(c.children[0], pc, slot);
      out = {t.f, t.t};
      break;
    }
    case CondOp::kSome:
    case CondOp::kEvery: {
      // The enclosing case (if any) is not visible inside: one value per
      // (node, purpose context), over every present slot.
      if (slot != -1) {
        out = Encode(id, pc, -1);
        break;
      }
      std::vector<z3::expr> some_t, some_f;
      for (size_t j = 0; j < v.slots.size(); ++j) {
        Tri b = Encode(c.children[0], pc, int(j));
        const z3::expr& p = v.slots[j].present;
        if (c.op == CondOp::kSome) {
          some_t.push_back(p && b.t);
          some_f.push_back(!p || b.f);
        } else {
          some_t.push_back(!p || b.t);
          some_f.push_back(p && b.f);
        }
      }
      // Without a subject a quantifier is unknown.
      out = c.op == CondOp::kSome ? Tri{v.subject && Or(c_, some_t), v.subject && And(c_, some_f)}
                                  : Tri{v.subject && And(c_, some_t), v.subject && Or(c_, some_f)};
      break;
    }
    case CondOp::kKnown:
      switch (c.attr) {
        case Attr::kSubject: out = {v.subject, !v.subject}; break;
        case Attr::kRecord: out = {v.record, !v.record}; break;
        case Attr::kRecordCase: {
          z3::expr k = v.record && v.record_case;
          out = {k, !k};
          break;
        }
        case Attr::kContext: {
          const z3::expr& p = v.context[c.context].present;
          out = {p, !p};
          break;
        }
        default: out = {T, F}; break;
      }
      break;
    case CondOp::kBoolAttr:
      switch (c.attr) {
        case Attr::kSubjectRegularisationPending: out = Known(v.subject, v.regularisation_pending); break;
        case Attr::kSubjectSubjectInitiated: out = Known(v.subject, v.subject_initiated); break;
        case Attr::kSubjectConsentToIe: out = Known(v.subject, v.consent_to_ie); break;
        case Attr::kRequesterNamedBySubject: out = Known(v.subject, v.named_by_subject); break;
        case Attr::kNoSubject: out = Known(T, v.no_subject); break;
        case Attr::kContext: {
          const ContextVars& cv = v.context[c.context];
          out = Known(cv.present, cv.boolean);
          break;
        }
        default: break;  // unknown, as the engine
      }
      break;
    case CondOp::kEnumIn: {
      auto in = [&](EnumKind k, const z3::expr& value) { return v.EnumIn(k, value, c.mask); };
      const z3::expr& purpose = pc == PurposeContext::kDeclared ? v.purpose : effective_purpose;
      switch (c.attr) {
        case Attr::kRequesterOrgType: out = Known(T, in(EnumKind::kOrgType, v.org_type)); break;
        case Attr::kRequesterRole: out = Known(T, in(EnumKind::kUserRole, v.user_role)); break;
        case Attr::kPurpose: out = Known(T, in(EnumKind::kPurpose, purpose)); break;
        case Attr::kDeclaredPurpose: out = Known(T, in(EnumKind::kPurpose, v.purpose)); break;
        case Attr::kAction: out = Known(T, in(EnumKind::kAction, v.action)); break;
        case Attr::kLegalBasis: out = Known(T, in(EnumKind::kLegalBasis, v.legal_basis)); break;
        case Attr::kSubjectConcern: out = Known(v.subject, in(EnumKind::kConcern, v.concern)); break;
        case Attr::kCaseType:
          if (slot >= 0) out = Known(T, in(EnumKind::kCaseType, v.slots[size_t(slot)].type));
          break;
        case Attr::kCaseStatus:
          if (slot >= 0) out = Known(T, in(EnumKind::kCaseStatus, v.slots[size_t(slot)].status));
          break;
        case Attr::kCaseRole:
          if (slot >= 0) out = Known(T, in(EnumKind::kRole, v.slots[size_t(slot)].role));
          break;
        case Attr::kRecordCollectedAs: out = Known(v.record, in(EnumKind::kRole, v.collected_as)); break;
        case Attr::kRecordCaseType:
          out = Known(v.record && v.record_case, in(EnumKind::kCaseType, v.record_case_type));
          break;
        case Attr::kRecordCaseStatus:
          out = Known(v.record && v.record_case, in(EnumKind::kCaseStatus, v.record_case_status));
          break;
        case Attr::kContext: {
          const ContextVars& cv = v.context[c.context];
          const policy::ContextVar& var = v.schema().context[c.context];
          std::vector<z3::expr> bits = context_bits(cv, var), sel;
          for (size_t i = 0; i < bits.size(); ++i) {
            if (c.mask >> i & 1) sel.push_back(bits[i]);
          }
          out = Known(cv.present, Or(c_, sel));
          break;
        }
        default: break;
      }
      break;
    }
    case CondOp::kSetHasAny:
    case CondOp::kSetHasAll:
    case CondOp::kSetIsEmpty:
      switch (c.attr) {
        case Attr::kCategories: out = Known(T, set_op(v.categories)); break;
        case Attr::kSubjectRoles: out = Known(v.subject, set_op(v.roles)); break;
        case Attr::kSubjectFlags: out = Known(v.subject, set_op(v.flags)); break;
        case Attr::kSubjectChosenCategories: out = Known(v.subject, set_op(v.chosen)); break;
        case Attr::kCaseFlags:
          if (slot >= 0) out = Known(T, set_op(v.slots[size_t(slot)].flags));
          break;
        case Attr::kContext: {
          const ContextVars& cv = v.context[c.context];
          out = Known(cv.present, set_op(context_bits(cv, v.schema().context[c.context])));
          break;
        }
        default: break;
      }
      break;
    case CondOp::kIdIn: {
      const z3::expr* value = &v.org;
      z3::expr known = T;
      if (c.attr == Attr::kContext) {
        const ContextVars& cv = v.context[c.context];
        const policy::ContextVar& var = v.schema().context[c.context];
        known = cv.present;
        if (var.type != ValueType::kId) {
          // The engine compares the (empty) id of a non-id value.
          bool empty_listed = std::binary_search(c.ids.begin(), c.ids.end(), std::string());
          out = Known(known, c_.bool_val(empty_listed));
          break;
        }
        value = &cv.value;
      }
      std::vector<z3::expr> eq;
      for (const std::string& s : c.ids) eq.push_back(*value == v.IdConst(v.IdIndex(s)));
      out = Known(known, Or(c_, eq));
      break;
    }
    case CondOp::kIntCmp: {
      const ContextVars& cv = v.context[c.context];
      z3::expr x = cv.number, n = c_.int_val(c.number);
      z3::expr r = T;
      switch (c.cmp) {
        case policy::CmpOp::kEq: r = x == n; break;
        case policy::CmpOp::kNe: r = x != n; break;
        case policy::CmpOp::kLt: r = x < n; break;
        case policy::CmpOp::kLe: r = x <= n; break;
        case policy::CmpOp::kGt: r = x > n; break;
        case policy::CmpOp::kGe: r = x >= n; break;
      }
      out = Known(cv.present, r);
      break;
    }
  }
  memo_.emplace(key, out);
  return out;
}

}  // namespace firebreak::verify::internal
