#include "policy/formatter.h"

#include <algorithm>

#include "policy/parser.h"

namespace firebreak::policy {
namespace {

constexpr size_t kWidth = 100;

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  out += '"';
  return out;
}

std::string LiteralText(const Literal& l) {
  switch (l.kind) {
    case Literal::Kind::kString: return Quote(l.text);
    case Literal::Kind::kBool: return l.boolean ? "true" : "false";
    case Literal::Kind::kInt: return std::to_string(l.number);
    default: return l.text;
  }
}

enum class Prec { kOr = 1, kAnd = 2, kUnary = 3 };

class Printer {
 public:
  Printer(const Module& m, bool canonical) : m_(m), canonical_(canonical) {}

  std::string List(const ValueList& l, bool sort) const {
    if (l.all) return "all";
    if (l.set_name) return *l.set_name;
    if (!l.attr.empty()) return l.attr;
    std::vector<std::string> vals;
    for (const Literal& v : l.values) vals.push_back(LiteralText(v));
    if (sort && canonical_) std::sort(vals.begin(), vals.end());
    std::string out = "[";
    for (size_t i = 0; i < vals.size(); ++i) {
      if (i) out += ", ";
      out += vals[i];
    }
    return out + "]";
  }

  // A list broken one value per line, for clauses too long for one line.
  std::string BrokenList(const ValueList& l, const std::string& indent) const {
    std::string out = "[\n";
    for (const Literal& v : l.values) out += indent + "  " + LiteralText(v) + ",\n";
    return out + indent + "]";
  }

  Prec PrecOf(ExprId id) const {
    const policy::Expr& e = m_.expr(id);
    if (std::holds_alternative<OrExpr>(e.node)) return Prec::kOr;
    if (std::holds_alternative<AndExpr>(e.node)) return Prec::kAnd;
    return Prec::kUnary;
  }

  // A quantifier inside `and`/`or` is bracketed even where precedence does
  // not need it, so no reader takes the operator to be inside the body. An
  // `and` written in brackets inside an `and` (an `or` inside an `or`) keeps
  // its brackets: without them it would parse back as one longer chain, a
  // different tree with a different canonical form (found by parser_fuzz).
  std::string Sub(ExprId id, Prec need) const {
    std::string s = ExprText(id);
    bool quantifier = std::holds_alternative<QuantExpr>(m_.expr(id).node);
    Prec p = PrecOf(id);
    if (p < need || (p == need && need != Prec::kUnary) || (quantifier && need != Prec::kUnary)) {
      return "(" + s + ")";
    }
    return s;
  }

  std::string ExprText(ExprId id) const {
    const policy::Expr& e = m_.expr(id);
    return std::visit(
        [&](const auto& n) -> std::string {
          using T = std::decay_t<decltype(n)>;
          if constexpr (std::is_same_v<T, BoolExpr>) {
            return n.value ? "true" : "false";
          } else if constexpr (std::is_same_v<T, NotExpr>) {
            return "not " + Sub(n.child, Prec::kUnary);
          } else if constexpr (std::is_same_v<T, AndExpr>) {
            std::string out;
            for (size_t i = 0; i < n.children.size(); ++i) {
              if (i) out += " and ";
              out += Sub(n.children[i], Prec::kAnd);
            }
            return out;
          } else if constexpr (std::is_same_v<T, OrExpr>) {
            std::string out;
            for (size_t i = 0; i < n.children.size(); ++i) {
              if (i) out += " or ";
              out += Sub(n.children[i], Prec::kOr);
            }
            return out;
          } else if constexpr (std::is_same_v<T, QuantExpr>) {
            const char* q = n.kind == Quantifier::kSome    ? "some"
                            : n.kind == Quantifier::kEvery ? "every"
                                                           : "no";
            return std::string(q) + " case where " + Sub(n.body, Prec::kUnary);
          } else {
            std::string out = n.attr.Dotted();
            switch (n.op) {
              case AtomOp::kTruthy:
                return out;
              case AtomOp::kIsEmpty: case AtomOp::kIsKnown: case AtomOp::kIsUnknown: case AtomOp::kIsNone:
                return out + " " + AtomOpSpelling(n.op);
              case AtomOp::kIn: case AtomOp::kNotIn: case AtomOp::kHasAny:
              case AtomOp::kHasAll: case AtomOp::kHasNone:
                return out + " " + AtomOpSpelling(n.op) + " " + List(n.list, true);
              default:
                return out + " " + AtomOpSpelling(n.op) + " " + LiteralText(*n.value);
            }
          }
        },
        e.node);
  }

  // `when …`, broken before each top-level `and`/`or` when too long.
  std::string WhenText(const std::string& head, ExprId id, const std::string& indent) const {
    std::string flat = head + ExprText(id);
    if (canonical_ || indent.size() + flat.size() <= kWidth) return flat;
    const policy::Expr& e = m_.expr(id);
    const std::vector<ExprId>* kids = nullptr;
    const char* op = nullptr;
    Prec need = Prec::kUnary;
    if (auto* a = std::get_if<AndExpr>(&e.node)) {
      kids = &a->children;
      op = "and ";
      need = Prec::kAnd;
    } else if (auto* o = std::get_if<OrExpr>(&e.node)) {
      kids = &o->children;
      op = "or ";
      need = Prec::kOr;
    }
    if (!kids) return flat;
    std::string out = head + Sub((*kids)[0], need);
    for (size_t i = 1; i < kids->size(); ++i) {
      out += "\n" + indent + "    " + op + Sub((*kids)[i], need);
    }
    return out;
  }

  std::string ClauseText(const Clause& c, const std::string& indent, bool sort_lists) const {
    std::string kw = KeywordSpelling(c.keyword);
    auto with_list = [&](const std::string& head, const ValueList& l) {
      std::string one = head + List(l, sort_lists);
      if (canonical_ || indent.size() + one.size() <= kWidth || l.set_name || l.all) return one;
      return head + BrokenList(l, indent);
    };
    switch (c.keyword) {
      case Keyword::kWhen:
        return WhenText("when ", c.expr, indent);
      case Keyword::kGrant: case Keyword::kWithhold: case Keyword::kObligations:
      case Keyword::kParties: case Keyword::kPurposes: case Keyword::kData:
      case Keyword::kLegalBasis: case Keyword::kFrom:
        return with_list(kw + " ", c.list);
      case Keyword::kEnum:
        return with_list("enum " + c.name + " ", c.list);
      case Keyword::kSet:
        return with_list("set " + c.name + ": " + c.type_name + " = ", c.list);
      case Keyword::kContext:
        return "context " + c.name + ": " + c.type_name +
               (c.type_arg.empty() ? "" : " " + c.type_arg) +
               (c.required ? " required" : " optional");
      case Keyword::kNever: case Keyword::kAlways: {
        std::string head = kw + " " + c.name + " ";
        if (c.name != "permit") head += List(c.list, sort_lists) + " ";
        return WhenText(head + "when ", c.expr, indent);
      }
      case Keyword::kPin:
        return LiteralText(c.value);
      default:
        return kw + " " + LiteralText(c.value);
    }
  }

  static std::vector<Keyword> CanonicalOrder(ItemKind kind) {
    using K = Keyword;
    switch (kind) {
      case ItemKind::kPack: return {K::kLayer, K::kTitle, K::kImport};
      case ItemKind::kSchema: return {K::kEnum, K::kSet, K::kContext};
      case ItemKind::kFirewall: case ItemKind::kForbid:
        return {K::kWhen, K::kObligations, K::kBecause, K::kSource};
      case ItemKind::kPermit:
        return {K::kWhen, K::kGrant, K::kWithhold, K::kObligations, K::kBecause, K::kSource};
      case ItemKind::kAgreement:
        return {K::kParties, K::kPurposes, K::kData, K::kWithhold, K::kLegalBasis, K::kRetention,
                K::kSecurity, K::kReview, K::kOwner, K::kWhen, K::kObligations, K::kBecause,
                K::kSource};
      case ItemKind::kNormalise: return {K::kFrom, K::kTo, K::kWhen, K::kBecause, K::kSource};
      case ItemKind::kGuarantee: return {K::kNever, K::kAlways, K::kBecause, K::kSource};
      default: return {};
    }
  }

  void Comments(std::string& out, const std::vector<Comment>& cs, const std::string& indent) const {
    if (canonical_) return;
    for (const Comment& c : cs) out += indent + "#" + c.text + "\n";
  }
  void Trailing(std::string& out, const std::optional<Comment>& c) const {
    if (!canonical_ && c) out += "  #" + c->text;
  }

  std::string ItemText(const Item& item) const {
    std::string out;
    Comments(out, item.leading, "");
    std::string head = std::string(ItemKindSpelling(item.kind)) + " " + item.name;
    if (item.kind == ItemKind::kSet) {
      const Clause& c = item.clauses.front();
      std::string one = head + ": " + c.type_name + " = " + List(c.list, true);
      out += (canonical_ || one.size() <= kWidth) ? one
                                                  : head + ": " + c.type_name + " = " + BrokenList(c.list, "");
      Trailing(out, item.trailing);
      return out + "\n";
    }
    if (item.kind == ItemKind::kPin) {
      out += head + " " + ClauseText(item.clauses.front(), "", true);
      Trailing(out, item.trailing);
      return out + "\n";
    }
    out += head + " {\n";
    // Canonical order; repeatable clauses keep their relative order (schema
    // entries and imports are the author's order).
    bool sort_lists = item.kind != ItemKind::kSchema;
    bool first = true;
    for (Keyword kw : CanonicalOrder(item.kind)) {
      for (const Clause& c : item.clauses) {
        if (c.keyword != kw) continue;
        if (c.blank_before && !first && !canonical_) out += "\n";
        first = false;
        Comments(out, c.leading, "  ");
        out += "  " + ClauseText(c, "  ", sort_lists);
        Trailing(out, c.trailing);
        out += "\n";
      }
    }
    out += "}";
    Trailing(out, item.trailing);
    return out + "\n";
  }

 private:
  const Module& m_;
  bool canonical_;
};

}  // namespace

std::string FormatModule(const Module& module) {
  Printer p(module, false);
  std::string out;
  for (size_t i = 0; i < module.items.size(); ++i) {
    if (i) out += "\n";
    out += p.ItemText(module.items[i]);
  }
  if (!module.tail_comments.empty()) {
    if (!out.empty()) out += "\n";
    for (const Comment& c : module.tail_comments) out += "#" + c.text + "\n";
  }
  return out;
}

std::string CanonicalItem(const Module& module, const Item& item) {
  return Printer(module, true).ItemText(item);
}

std::string FormatExpr(const Module& module, ExprId id) { return Printer(module, true).ExprText(id); }

}  // namespace firebreak::policy
