#include "policy/checker.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/base.h"
#include "policy/formatter.h"

namespace firebreak::policy {

std::string Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    size_t d = distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

namespace {

struct AttrInfo {
  Attr attr;
  ValueType type;
  EnumKind kind;
  bool group = false;      // subject, record, record.case: only `is known`
  bool in_case = false;    // case.*: only inside a quantifier
};

bool ResolvePath(const std::vector<std::string>& p, AttrInfo* out) {
  using VT = ValueType;
  using EK = EnumKind;
  static const std::map<std::string, AttrInfo> kTable = {
      {"requester.org", {Attr::kRequesterOrg, VT::kId, EK::kPurpose}},
      {"requester.org_type", {Attr::kRequesterOrgType, VT::kEnum, EK::kOrgType}},
      {"requester.role", {Attr::kRequesterRole, VT::kEnum, EK::kUserRole}},
      {"purpose", {Attr::kPurpose, VT::kEnum, EK::kPurpose}},
      {"declared_purpose", {Attr::kDeclaredPurpose, VT::kEnum, EK::kPurpose}},
      {"action", {Attr::kAction, VT::kEnum, EK::kAction}},
      {"categories", {Attr::kCategories, VT::kEnumSet, EK::kCategory}},
      {"legal_basis", {Attr::kLegalBasis, VT::kEnum, EK::kLegalBasis}},
      {"subject", {Attr::kSubject, VT::kBool, EK::kPurpose, true}},
      {"subject.roles", {Attr::kSubjectRoles, VT::kEnumSet, EK::kRole}},
      {"subject.flags", {Attr::kSubjectFlags, VT::kEnumSet, EK::kFlag}},
      {"subject.immigration_concern", {Attr::kSubjectConcern, VT::kEnum, EK::kConcern}},
      {"subject.regularisation_pending", {Attr::kSubjectRegularisationPending, VT::kBool, EK::kPurpose}},
      {"subject.subject_initiated", {Attr::kSubjectSubjectInitiated, VT::kBool, EK::kPurpose}},
      {"subject.consent_to_ie", {Attr::kSubjectConsentToIe, VT::kBool, EK::kPurpose}},
      {"subject.chosen_categories", {Attr::kSubjectChosenCategories, VT::kEnumSet, EK::kCategory}},
      {"requester.named_by_subject", {Attr::kRequesterNamedBySubject, VT::kBool, EK::kPurpose}},
      {"case.type", {Attr::kCaseType, VT::kEnum, EK::kCaseType, false, true}},
      {"case.status", {Attr::kCaseStatus, VT::kEnum, EK::kCaseStatus, false, true}},
      {"case.role", {Attr::kCaseRole, VT::kEnum, EK::kRole, false, true}},
      {"case.flags", {Attr::kCaseFlags, VT::kEnumSet, EK::kFlag, false, true}},
      {"record", {Attr::kRecord, VT::kBool, EK::kPurpose, true}},
      {"record.collected_as", {Attr::kRecordCollectedAs, VT::kEnum, EK::kRole}},
      {"record.case", {Attr::kRecordCase, VT::kBool, EK::kPurpose, true}},
      {"record.case.type", {Attr::kRecordCaseType, VT::kEnum, EK::kCaseType}},
      {"record.case.status", {Attr::kRecordCaseStatus, VT::kEnum, EK::kCaseStatus}},
  };
  std::string dotted;
  for (size_t i = 0; i < p.size(); ++i) dotted += (i ? "." : "") + p[i];
  auto it = kTable.find(dotted);
  if (it == kTable.end()) return false;
  *out = it->second;
  return true;
}

std::vector<std::string> AttributeNames() {
  return {"requester.org", "requester.org_type", "requester.role", "purpose", "declared_purpose",
          "action", "categories", "legal_basis", "subject", "subject.roles", "subject.flags",
          "subject.immigration_concern", "subject.regularisation_pending",
          "subject.subject_initiated", "subject.consent_to_ie", "subject.chosen_categories",
          "requester.named_by_subject", "case.type", "case.status",
          "case.role", "case.flags", "record", "record.collected_as", "record.case", "record.case.type",
          "record.case.status"};
}

std::string TypeName(ValueType t, EnumKind k) {
  switch (t) {
    case ValueType::kBool: return "bool";
    case ValueType::kInt: return "int";
    case ValueType::kTimestamp: return "timestamp";
    case ValueType::kId: return "id";
    case ValueType::kEnum: return EnumKindName(k);
    case ValueType::kEnumSet: return std::string("set of ") + EnumKindName(k);
  }
  return "?";
}

struct NamedSet {
  EnumKind kind;
  Mask mask;
  Span span;
};

class Checker {
 public:
  Checker(const SourceManager& sources, const std::vector<LoadedPack>& packs,
          DiagnosticSink& sink)
      : sources_(sources), packs_(packs), sink_(sink), set_(std::make_shared<PolicySet>()) {}

  std::shared_ptr<PolicySet> Run() {
    for (const LoadedPack& p : packs_) set_->packs.push_back(p.info);
    CheckLayers();
    if (!BuildSchema()) return nullptr;
    CollectSets();
    CheckUniqueNames();
    for (const LoadedPack& p : packs_) {
      for (const Module& m : p.modules) {
        for (const Item& item : m.items) CheckItem(p, m, item);
      }
    }
    CheckPins();
    if (sink_.has_errors()) return nullptr;
    std::sort(set_->rules.begin(), set_->rules.end(),
              [](const Rule& a, const Rule& b) { return a.name < b.name; });
    std::sort(set_->normalisations.begin(), set_->normalisations.end(),
              [](const Normalisation& a, const Normalisation& b) { return a.name < b.name; });
    std::sort(set_->guarantees.begin(), set_->guarantees.end(),
              [](const Guarantee& a, const Guarantee& b) { return a.name < b.name; });
    ComputeHash();
    return set_;
  }

 private:
  // ---- layers ----
  void CheckLayers() {
    for (const LoadedPack& p : packs_) {
      for (const Module& m : p.modules) {
        for (const Item& item : m.items) {
          if (item.kind == ItemKind::kPack) continue;
          bool ok = true;
          switch (p.info.layer) {
            case Layer::kNational:
              break;
            case Layer::kHolder:
              ok = item.kind != ItemKind::kSchema && item.kind != ItemKind::kFirewall;
              break;
            case Layer::kAgreement:
              ok = item.kind == ItemKind::kAgreement || item.kind == ItemKind::kGuarantee ||
                   item.kind == ItemKind::kPin;
              break;
          }
          if (!ok) {
            sink_.Error(DiagnosticId::kLayerViolation, item.span,
                        fmt::format("a {} cannot appear in pack `{}` of the {} layer{}",
                                    ItemKindSpelling(item.kind), p.info.name,
                                    LayerName(p.info.layer),
                                    item.kind == ItemKind::kFirewall
                                        ? " (firewall rules belong to the national layer)"
                                        : ""));
          }
        }
      }
    }
  }

  // ---- schema ----
  bool BuildSchema() {
    const Item* found = nullptr;
    for (const LoadedPack& p : packs_) {
      for (const Module& m : p.modules) {
        for (const Item& item : m.items) {
          if (item.kind != ItemKind::kSchema) continue;
          if (found) {
            sink_.Error(DiagnosticId::kSchemaCount, item.span,
                        fmt::format("a second schema `{}`: a policy set has exactly one schema "
                                    "(the first is `{}`)",
                                    item.name, found->name));
            continue;
          }
          found = &item;
        }
      }
    }
    if (!found) {
      sink_.ErrorNoSpan(DiagnosticId::kSchemaCount,
                        "the policy set has no schema: import the pack that declares it");
      return false;
    }
    auto schema = std::make_shared<Schema>();
    schema->name = found->name;
    std::array<bool, kEnumKindCount> seen{};
    for (const Clause& c : found->clauses) {
      if (c.keyword == Keyword::kEnum) {
        EnumKind k;
        if (!LookupEnumKind(c.name, &k)) {
          std::vector<std::string> names;
          for (size_t i = 0; i < kEnumKindCount; ++i) names.push_back(EnumKindName(EnumKind(i)));
          std::string s = Suggest(c.name, names);
          sink_.Error(DiagnosticId::kUnknownEnumKind, c.name_span,
                      fmt::format("unknown enum kind `{}`{}", c.name,
                                  s.empty() ? "" : fmt::format("; did you mean `{}`?", s)));
          continue;
        }
        if (seen[size_t(k)]) {
          sink_.Error(DiagnosticId::kDuplicateName, c.name_span,
                      fmt::format("enum `{}` is declared twice", c.name));
          continue;
        }
        seen[size_t(k)] = true;
        if (c.list.set_name) {
          sink_.Error(DiagnosticId::kExpected, c.list.span, "an enum is declared with `[` values `]`");
          continue;
        }
        std::set<std::string> uniq;
        for (const Literal& v : c.list.values) {
          if (v.kind != Literal::Kind::kName) {
            sink_.Error(DiagnosticId::kTypeMismatch, v.span,
                        "enum values are names such as `immigration-enforcement`");
            continue;
          }
          if (!uniq.insert(v.text).second) {
            sink_.Error(DiagnosticId::kDuplicateValue, v.span,
                        fmt::format("`{}` appears twice in enum `{}`", v.text, c.name));
            continue;
          }
          schema->values[size_t(k)].push_back(v.text);
        }
        size_t n = schema->values[size_t(k)].size();
        if (n == 0 || n > kMaxEnumValues) {
          sink_.Error(DiagnosticId::kTooManyValues, c.list.span,
                      fmt::format("enum `{}` has {} values; it needs 1 to {}", c.name, n,
                                  kMaxEnumValues));
        }
      } else if (c.keyword == Keyword::kContext) {
        ContextVar v;
        v.name = c.name;
        v.required = c.required;
        bool ok = true;
        if (c.type_name == "bool") v.type = ValueType::kBool;
        else if (c.type_name == "int") v.type = ValueType::kInt;
        else if (c.type_name == "timestamp") v.type = ValueType::kTimestamp;
        else if (c.type_name == "id") v.type = ValueType::kId;
        else if (c.type_name == "set") {
          v.type = ValueType::kEnumSet;
          ok = LookupEnumKind(c.type_arg, &v.kind);
        } else {
          v.type = ValueType::kEnum;
          ok = LookupEnumKind(c.type_name, &v.kind);
        }
        if (!ok) {
          sink_.Error(DiagnosticId::kBadContextType, c.type_span,
                      fmt::format("unknown type `{}{}`: use bool, int, timestamp, id, an enum "
                                  "kind, or `set` and an enum kind",
                                  c.type_name, c.type_arg.empty() ? "" : " " + c.type_arg));
          continue;
        }
        for (const ContextVar& o : schema->context) {
          if (o.name == v.name) {
            sink_.Error(DiagnosticId::kDuplicateName, c.name_span,
                        fmt::format("context `{}` is declared twice", v.name));
            ok = false;
          }
        }
        if (ok) schema->context.push_back(v);
      }
    }
    for (size_t i = 0; i < kEnumKindCount; ++i) {
      if (!seen[i]) {
        sink_.Error(DiagnosticId::kMissingEnum, found->name_span,
                    fmt::format("schema `{}` does not declare `enum {}`", found->name,
                                EnumKindName(EnumKind(i))));
      }
    }
    schema->BuildIndex();
    schema_ = schema;
    set_->schema = schema;
    return !sink_.has_errors();
  }

  // ---- named sets ----
  void CollectSets() {
    auto add = [&](const Clause& c) {
      EnumKind k;
      if (!LookupEnumKind(c.type_name, &k)) {
        sink_.Error(DiagnosticId::kUnknownEnumKind, c.type_span,
                    fmt::format("unknown enum kind `{}` for set `{}`", c.type_name, c.name));
        return;
      }
      if (sets_.count(c.name)) {
        sink_.Error(DiagnosticId::kDuplicateName, c.name_span,
                    fmt::format("set `{}` is defined twice", c.name));
        return;
      }
      Mask m = 0;
      for (const Literal& v : c.list.values) m |= ValueBit(k, v);
      sets_[c.name] = NamedSet{k, m, c.name_span};
    };
    for (const LoadedPack& p : packs_) {
      for (const Module& mod : p.modules) {
        for (const Item& item : mod.items) {
          if (item.kind == ItemKind::kSet) add(item.clauses.front());
          if (item.kind == ItemKind::kSchema) {
            for (const Clause& c : item.clauses) {
              if (c.keyword == Keyword::kSet) add(c);
            }
          }
        }
      }
    }
  }

  void CheckUniqueNames() {
    std::map<std::string, Span> names;
    for (const LoadedPack& p : packs_) {
      for (const Module& m : p.modules) {
        for (const Item& item : m.items) {
          if (item.kind == ItemKind::kPack || item.kind == ItemKind::kSchema ||
              item.kind == ItemKind::kPin || item.kind == ItemKind::kSet) {
            continue;
          }
          auto [it, inserted] = names.emplace(item.name, item.name_span);
          if (!inserted) {
            sink_.Error(DiagnosticId::kDuplicateName, item.name_span,
                        fmt::format("`{}` is already defined at {}:{}:{}", item.name,
                                    SourcePath(it->second), it->second.line, it->second.column));
          }
        }
      }
    }
  }

  std::string SourcePath(const Span& s) const { return sources_.path(s.file); }

  // ---- values ----
  Mask ValueBit(EnumKind k, const Literal& v) {
    if (v.kind != Literal::Kind::kName) {
      sink_.Error(DiagnosticId::kTypeMismatch, v.span,
                  fmt::format("expected a {} value, found `{}`", EnumKindName(k), v.text));
      return 0;
    }
    int idx = schema_->Find(k, v.text);
    if (idx < 0) {
      std::string s = Suggest(v.text, schema_->Values(k));
      sink_.Error(DiagnosticId::kUnknownValue, v.span,
                  fmt::format("`{}` is not a {} in schema `{}`{}", v.text, EnumKindName(k),
                              schema_->name,
                              s.empty() ? "" : fmt::format("; did you mean `{}`?", s)));
      return 0;
    }
    return Mask{1} << idx;
  }

  Mask ListMask(EnumKind k, const ValueList& l) {
    if (l.all) return schema_->All(k);
    if (l.set_name) {
      auto it = sets_.find(*l.set_name);
      if (it == sets_.end()) {
        std::vector<std::string> names;
        for (auto& [n, _] : sets_) names.push_back(n);
        std::string s = Suggest(*l.set_name, names);
        sink_.Error(DiagnosticId::kUnknownSet, l.span,
                    fmt::format("unknown set `{}`{}", *l.set_name,
                                s.empty() ? "" : fmt::format("; did you mean `{}`?", s)));
        return 0;
      }
      if (it->second.kind != k) {
        sink_.Error(DiagnosticId::kTypeMismatch, l.span,
                    fmt::format("set `{}` holds {} values, but {} values are needed here",
                                *l.set_name, EnumKindName(it->second.kind), EnumKindName(k)));
        return 0;
      }
      return it->second.mask;
    }
    Mask m = 0;
    for (const Literal& v : l.values) m |= ValueBit(k, v);
    return m;
  }

  // ---- conditions ----
  CondId AddCond(Cond c) {
    set_->conds.push_back(std::move(c));
    return static_cast<CondId>(set_->conds.size() - 1);
  }
  CondId Not(CondId child, Span span) {
    Cond c;
    c.op = CondOp::kNot;
    c.children = {child};
    c.span = span;
    return AddCond(std::move(c));
  }
  CondId Bad(Span span) {
    Cond c;
    c.op = CondOp::kFalse;
    c.span = span;
    return AddCond(std::move(c));
  }

  CondId Resolve(const Module& m, ExprId id, bool in_case) {
    const Expr& e = m.expr(id);
    return std::visit(
        [&](const auto& n) -> CondId {
          using T = std::decay_t<decltype(n)>;
          if constexpr (std::is_same_v<T, BoolExpr>) {
            Cond c;
            c.op = n.value ? CondOp::kTrue : CondOp::kFalse;
            c.span = e.span;
            return AddCond(std::move(c));
          } else if constexpr (std::is_same_v<T, NotExpr>) {
            return Not(Resolve(m, n.child, in_case), e.span);
          } else if constexpr (std::is_same_v<T, AndExpr> || std::is_same_v<T, OrExpr>) {
            Cond c;
            c.op = std::is_same_v<T, AndExpr> ? CondOp::kAnd : CondOp::kOr;
            c.span = e.span;
            for (ExprId k : n.children) c.children.push_back(Resolve(m, k, in_case));
            return AddCond(std::move(c));
          } else if constexpr (std::is_same_v<T, QuantExpr>) {
            Cond c;
            c.op = n.kind == Quantifier::kEvery ? CondOp::kEvery : CondOp::kSome;
            c.span = e.span;
            c.children = {Resolve(m, n.body, true)};
            CondId q = AddCond(std::move(c));
            return n.kind == Quantifier::kNo ? Not(q, e.span) : q;
          } else {
            return ResolveAtom(n, e.span, in_case);
          }
        },
        e.node);
  }

  CondId ResolveAtom(const AtomExpr& a, Span span, bool in_case) {
    AttrInfo info{};
    Cond c;
    c.span = span;
    const auto& parts = a.attr.parts;
    if (parts.size() == 2 && parts[0] == "context") {
      int idx = schema_->FindContext(parts[1]);
      if (idx < 0) {
        std::vector<std::string> names;
        for (const ContextVar& v : schema_->context) names.push_back(v.name);
        std::string s = Suggest(parts[1], names);
        sink_.Error(DiagnosticId::kUnknownAttribute, a.attr.span,
                    fmt::format("`context.{}` is not declared in schema `{}`{}", parts[1],
                                schema_->name,
                                s.empty() ? "" : fmt::format("; did you mean `context.{}`?", s)));
        return Bad(span);
      }
      const ContextVar& v = schema_->context[size_t(idx)];
      info = AttrInfo{Attr::kContext, v.type, v.kind};
      c.context = static_cast<uint16_t>(idx);
      if (a.op == AtomOp::kIsKnown || a.op == AtomOp::kIsUnknown) {
        c.op = CondOp::kKnown;
        c.attr = Attr::kContext;
        CondId k = AddCond(std::move(c));
        return a.op == AtomOp::kIsKnown ? k : Not(k, span);
      }
    } else if (!ResolvePath(parts, &info)) {
      std::string dotted = a.attr.Dotted();
      std::string hint;
      if (dotted == "subject.cases") {
        hint = "; read the subject's cases with `some case where …`, `every case where …` or "
               "`no case where …`";
      } else {
        std::string s = Suggest(dotted, AttributeNames());
        if (!s.empty()) hint = fmt::format("; did you mean `{}`?", s);
      }
      sink_.Error(DiagnosticId::kUnknownAttribute, a.attr.span,
                  fmt::format("unknown attribute `{}`{}", dotted, hint));
      return Bad(span);
    }
    c.attr = info.attr;
    c.kind = info.kind;
    if (info.in_case && !in_case) {
      sink_.Error(DiagnosticId::kCaseOutsideQuantifier, a.attr.span,
                  fmt::format("`{}` can only be read inside `some case where …` (or `every`, `no`)",
                              a.attr.Dotted()));
      return Bad(span);
    }
    auto mismatch = [&](const std::string& what) {
      std::string type = info.group ? "group (subject, record or record.case)"
                                    : TypeName(info.type, info.kind);
      bool vowel = std::string_view("aeiou").find(type[0]) != std::string_view::npos;
      sink_.Error(DiagnosticId::kTypeMismatch, span,
                  fmt::format("{}: `{}` is {} {}", what, a.attr.Dotted(), vowel ? "an" : "a", type));
      return Bad(span);
    };
    if (info.group && a.op == AtomOp::kIsNone) {
      if (info.attr != Attr::kSubject) return mismatch("only `subject is none` is defined (a request about no person)");
      c.op = CondOp::kBoolAttr;
      c.attr = Attr::kNoSubject;
      return AddCond(std::move(c));
    }
    if (info.group) {
      if (a.op != AtomOp::kIsKnown && a.op != AtomOp::kIsUnknown) {
        return mismatch("only `is known` and `is unknown` apply to a group");
      }
      c.op = CondOp::kKnown;
      CondId k = AddCond(std::move(c));
      return a.op == AtomOp::kIsKnown ? k : Not(k, span);
    }
    if (a.op == AtomOp::kIsKnown || a.op == AtomOp::kIsUnknown) {
      return mismatch("`is known` applies to `subject`, `record`, `record.case` and optional "
                      "`context` values");
    }
    switch (info.type) {
      case ValueType::kBool: {
        bool want = true;
        if (a.op == AtomOp::kEq || a.op == AtomOp::kNe) {
          if (a.value->kind != Literal::Kind::kBool) return mismatch("compare with `true` or `false`");
          want = a.value->boolean == (a.op == AtomOp::kEq);
        } else if (a.op != AtomOp::kTruthy) {
          return mismatch(fmt::format("`{}` does not apply", AtomOpSpelling(a.op)));
        }
        c.op = CondOp::kBoolAttr;
        CondId b = AddCond(std::move(c));
        return want ? b : Not(b, span);
      }
      case ValueType::kEnum: {
        Mask all = schema_->All(info.kind);
        switch (a.op) {
          case AtomOp::kEq: case AtomOp::kNe:
            c.mask = ValueBit(info.kind, *a.value);
            if (a.op == AtomOp::kNe) c.mask = all & ~c.mask;
            break;
          case AtomOp::kIn: case AtomOp::kNotIn:
            c.mask = ListMask(info.kind, a.list);
            if (a.op == AtomOp::kNotIn) c.mask = all & ~c.mask;
            break;
          default:
            return mismatch(a.op == AtomOp::kTruthy
                                ? std::string("a condition needs a comparison")
                                : fmt::format("`{}` does not apply", AtomOpSpelling(a.op)));
        }
        c.op = CondOp::kEnumIn;
        return AddCond(std::move(c));
      }
      case ValueType::kEnumSet: {
        switch (a.op) {
          case AtomOp::kHas:
            c.op = CondOp::kSetHasAny;
            c.mask = ValueBit(info.kind, *a.value);
            return AddCond(std::move(c));
          case AtomOp::kHasAny: case AtomOp::kHasNone: {
            c.op = CondOp::kSetHasAny;
            c.mask = ListMask(info.kind, a.list);
            CondId h = AddCond(std::move(c));
            return a.op == AtomOp::kHasAny ? h : Not(h, span);
          }
          case AtomOp::kHasAll:
            c.op = CondOp::kSetHasAll;
            c.mask = ListMask(info.kind, a.list);
            return AddCond(std::move(c));
          case AtomOp::kIsEmpty:
            c.op = CondOp::kSetIsEmpty;
            return AddCond(std::move(c));
          default:
            return mismatch(fmt::format("use `has`, `has_any`, `has_all`, `has_none` or `is empty`{}",
                                        a.op == AtomOp::kTruthy ? ""
                                                                : fmt::format(", not `{}`", AtomOpSpelling(a.op))));
        }
      }
      case ValueType::kId: {
        if (a.op == AtomOp::kEq || a.op == AtomOp::kNe) {
          if (a.value->kind != Literal::Kind::kString) return mismatch("compare with a \"string\"");
          c.ids = {a.value->text};
        } else if (a.op == AtomOp::kIn || a.op == AtomOp::kNotIn) {
          if (a.list.set_name) return mismatch("list the ids in `[` `]`");
          for (const Literal& v : a.list.values) {
            if (v.kind != Literal::Kind::kString) return mismatch("ids are written as \"strings\"");
            c.ids.push_back(v.text);
          }
          std::sort(c.ids.begin(), c.ids.end());
        } else {
          return mismatch(fmt::format("`{}` does not apply", AtomOpSpelling(a.op)));
        }
        c.op = CondOp::kIdIn;
        CondId r = AddCond(std::move(c));
        return (a.op == AtomOp::kNe || a.op == AtomOp::kNotIn) ? Not(r, span) : r;
      }
      case ValueType::kInt:
      case ValueType::kTimestamp: {
        static constexpr std::pair<AtomOp, CmpOp> kCmp[] = {
            {AtomOp::kEq, CmpOp::kEq}, {AtomOp::kNe, CmpOp::kNe}, {AtomOp::kLt, CmpOp::kLt},
            {AtomOp::kLe, CmpOp::kLe}, {AtomOp::kGt, CmpOp::kGt}, {AtomOp::kGe, CmpOp::kGe}};
        bool found = false;
        for (auto [o, cmp] : kCmp) {
          if (o == a.op) {
            c.cmp = cmp;
            found = true;
          }
        }
        if (!found) return mismatch(fmt::format("`{}` does not apply", AtomOpSpelling(a.op)));
        bool ts = info.type == ValueType::kTimestamp;
        bool lit_ok = ts ? (a.value->kind == Literal::Kind::kDate ||
                            a.value->kind == Literal::Kind::kTimestamp)
                         : a.value->kind == Literal::Kind::kInt;
        if (!lit_ok) return mismatch(ts ? "compare with a date or timestamp" : "compare with an integer");
        c.op = CondOp::kIntCmp;
        c.number = a.value->number;
        return AddCond(std::move(c));
      }
    }
    return Bad(span);
  }

  // ---- items ----
  static std::string Text(const Item& item, Keyword kw) {
    const Clause* c = item.Find(kw);
    return c ? c->value.text : std::string();
  }

  CondId When(const Module& m, const Item& item) {
    const Clause* w = item.Find(Keyword::kWhen);
    if (!w) {
      Cond t;
      t.op = CondOp::kTrue;
      t.span = item.name_span;
      return AddCond(std::move(t));
    }
    return Resolve(m, w->expr, false);
  }

  Mask ClauseMask(const Item& item, Keyword kw, EnumKind k) {
    const Clause* c = item.Find(kw);
    return c ? ListMask(k, c->list) : 0;
  }

  void CheckItem(const LoadedPack& p, const Module& m, const Item& item) {
    switch (item.kind) {
      case ItemKind::kPack: case ItemKind::kSchema: case ItemKind::kSet: case ItemKind::kPin:
        return;
      case ItemKind::kFirewall: case ItemKind::kForbid: case ItemKind::kPermit: {
        Rule r;
        r.name = item.name;
        r.kind = item.kind == ItemKind::kFirewall ? RuleKind::kFirewall
                 : item.kind == ItemKind::kForbid ? RuleKind::kForbid
                                                  : RuleKind::kPermit;
        r.cond = When(m, item);
        if (const Clause* g = item.Find(Keyword::kGrant); g && !g->list.attr.empty()) {
          if (g->list.attr != "subject.chosen_categories") {
            sink_.Error(DiagnosticId::kTypeMismatch, g->list.span,
                        fmt::format("`grant` takes a list, a set name, `all` or `subject.chosen_categories`, "
                                    "not `{}`",
                                    g->list.attr));
          }
          r.grant_chosen = true;
        } else {
          r.grant = ClauseMask(item, Keyword::kGrant, EnumKind::kCategory);
        }
        r.withhold = ClauseMask(item, Keyword::kWithhold, EnumKind::kCategory);
        r.obligations = ClauseMask(item, Keyword::kObligations, EnumKind::kObligation);
        FillCommon(r, p, m, item);
        set_->rules.push_back(std::move(r));
        return;
      }
      case ItemKind::kAgreement: {
        Rule r;
        r.name = item.name;
        r.kind = RuleKind::kAgreement;
        auto info = std::make_unique<AgreementInfo>();
        info->parties = ClauseMask(item, Keyword::kParties, EnumKind::kOrgType);
        info->purposes = ClauseMask(item, Keyword::kPurposes, EnumKind::kPurpose);
        info->legal_bases = ClauseMask(item, Keyword::kLegalBasis, EnumKind::kLegalBasis);
        info->retention = Text(item, Keyword::kRetention);
        info->security = Text(item, Keyword::kSecurity);
        info->owner = Text(item, Keyword::kOwner);
        if (const Clause* rv = item.Find(Keyword::kReview)) info->review = rv->value.number;
        for (auto [kw, text] : {std::pair{Keyword::kRetention, &info->retention},
                                {Keyword::kSecurity, &info->security},
                                {Keyword::kOwner, &info->owner}}) {
          const Clause* c = item.Find(kw);
          if (c && text->find_first_not_of(" \t") == std::string::npos) {
            sink_.Error(DiagnosticId::kMissingClause, c->span,
                        fmt::format("agreement `{}`: `{}` must not be empty", item.name,
                                    KeywordSpelling(kw)));
          }
        }
        r.grant = ClauseMask(item, Keyword::kData, EnumKind::kCategory);
        r.withhold = ClauseMask(item, Keyword::kWithhold, EnumKind::kCategory);
        r.obligations = ClauseMask(item, Keyword::kObligations, EnumKind::kObligation);
        Cond all;
        all.op = CondOp::kAnd;
        all.span = item.name_span;
        auto in = [&](Attr attr, EnumKind k, Mask mask) {
          Cond c;
          c.op = CondOp::kEnumIn;
          c.attr = attr;
          c.kind = k;
          c.mask = mask;
          c.span = item.name_span;
          return AddCond(std::move(c));
        };
        all.children.push_back(in(Attr::kRequesterOrgType, EnumKind::kOrgType, info->parties));
        all.children.push_back(in(Attr::kPurpose, EnumKind::kPurpose, info->purposes));
        all.children.push_back(in(Attr::kLegalBasis, EnumKind::kLegalBasis, info->legal_bases));
        if (item.Find(Keyword::kWhen)) all.children.push_back(When(m, item));
        r.cond = AddCond(std::move(all));
        r.agreement = std::move(info);
        FillCommon(r, p, m, item);
        set_->rules.push_back(std::move(r));
        return;
      }
      case ItemKind::kNormalise: {
        Normalisation n;
        n.name = item.name;
        n.from = ClauseMask(item, Keyword::kFrom, EnumKind::kPurpose);
        if (const Clause* to = item.Find(Keyword::kTo)) {
          Mask bit = ValueBit(EnumKind::kPurpose, to->value);
          n.to = bit ? __builtin_ctzll(bit) : 0;
        }
        n.cond = When(m, item);
        n.because = Text(item, Keyword::kBecause);
        n.source = Text(item, Keyword::kSource);
        n.pack = p.info.name;
        n.span = item.name_span;
        set_->normalisations.push_back(std::move(n));
        return;
      }
      case ItemKind::kGuarantee: {
        Guarantee g;
        g.name = item.name;
        for (const Clause& c : item.clauses) {
          if (c.keyword != Keyword::kNever && c.keyword != Keyword::kAlways) continue;
          if (c.name == "permit") {
            g.kind = c.keyword == Keyword::kAlways ? GuaranteeKind::kAlwaysPermit : GuaranteeKind::kNeverPermit;
          } else if (c.name == "disclose") {
            g.kind = GuaranteeKind::kNeverDisclose;
            g.mask = ListMask(EnumKind::kCategory, c.list);
          } else {
            g.kind = GuaranteeKind::kAlwaysObligations;
            g.mask = ListMask(EnumKind::kObligation, c.list);
          }
          g.cond = Resolve(m, c.expr, false);
        }
        g.because = Text(item, Keyword::kBecause);
        g.source = Text(item, Keyword::kSource);
        g.pack = p.info.name;
        g.span = item.name_span;
        g.canonical = CanonicalItem(m, item);
        set_->guarantees.push_back(std::move(g));
        return;
      }
    }
  }

  void FillCommon(Rule& r, const LoadedPack& p, const Module& m, const Item& item) {
    r.because = Text(item, Keyword::kBecause);
    r.source = Text(item, Keyword::kSource);
    r.pack = p.info.name;
    r.layer = p.info.layer;
    r.span = item.name_span;
    r.canonical = CanonicalItem(m, item);
  }

  // ---- pins ----
  void CheckPins() {
    for (const LoadedPack& p : packs_) {
      for (const Module& m : p.modules) {
        for (const Item& item : m.items) {
          if (item.kind != ItemKind::kPin) continue;
          const std::string& want = item.clauses.front().value.text;
          if (want.rfind("sha256:", 0) != 0 || want.size() != 7 + 64 ||
              !HexDecode(std::string_view(want).substr(7))) {
            sink_.Error(DiagnosticId::kBadPin, item.clauses.front().value.span,
                        "a pin is \"sha256:\" followed by 64 hex digits");
            continue;
          }
          const Rule* rule = nullptr;
          for (const Rule& r : set_->rules) {
            if (r.name == item.name) rule = &r;
          }
          if (!rule || rule->kind != RuleKind::kFirewall) {
            sink_.Error(DiagnosticId::kPinRemoved, item.name_span,
                        fmt::format("pinned firewall rule `{}` was removed from the policy set{}",
                                    item.name,
                                    rule ? fmt::format(" (`{}` is now a {})", item.name,
                                                       RuleKindName(rule->kind))
                                         : ""));
            continue;
          }
          std::string got = "sha256:" + HexEncode(DigestBytes(Sha256(rule->canonical)));
          if (got != want) {
            sink_.Error(DiagnosticId::kPinAltered, item.name_span,
                        fmt::format("pinned firewall rule `{}` was altered: its hash is {}, "
                                    "the pin says {}",
                                    item.name, got, want));
            continue;
          }
          set_->pins.push_back(Pin{item.name, want, p.info.name, item.name_span});
        }
      }
    }
  }

  // ---- hash ----
  void ComputeHash() {
    // Schema first, then every other item sorted by kind and name.
    std::vector<std::pair<std::pair<int, std::string>, std::string>> parts;
    for (const LoadedPack& p : packs_) {
      for (const Module& m : p.modules) {
        for (const Item& item : m.items) {
          if (item.kind == ItemKind::kPack) continue;
          parts.push_back({{int(item.kind), item.name}, CanonicalItem(m, item)});
          set_->item_hashes[std::string(ItemKindSpelling(item.kind)) + " " + item.name] =
              "sha256:" + HexEncode(DigestBytes(Sha256(parts.back().second)));
        }
      }
    }
    std::sort(parts.begin(), parts.end());
    Sha256Hasher h;
    h.Begin();
    for (const auto& [key, text] : parts) {
      h.Update(text);
      h.Update("\n");
    }
    set_->hash = "sha256:" + HexEncode(DigestBytes(h.Finish()));
  }

  const SourceManager& sources_;
  const std::vector<LoadedPack>& packs_;
  DiagnosticSink& sink_;
  std::shared_ptr<PolicySet> set_;
  std::shared_ptr<const Schema> schema_;
  std::map<std::string, NamedSet> sets_;
};

}  // namespace

std::shared_ptr<PolicySet> Check(const SourceManager& sources,
                                 const std::vector<LoadedPack>& packs, DiagnosticSink& sink) {
  Checker c(sources, packs, sink);
  return c.Run();
}

}  // namespace firebreak::policy
