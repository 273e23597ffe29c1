// The syntax tree of one policy file. Items hold clauses; conditions live in a
// per-module arena of `Expr` nodes addressed by `ExprId`, each an id plus a
// variant, with its span beside it. The checker resolves names into the
// separate, fully typed `Cond` IR (ir.h) that the engine and the verifier use.
//
// Thread model: plain values, thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "policy/source.h"
#include "policy/token.h"

namespace firebreak::policy {

using ExprId = uint32_t;
inline constexpr ExprId kNoExpr = UINT32_MAX;

struct Literal {
  enum class Kind : uint8_t { kName, kString, kInt, kDate, kTimestamp, kBool };
  Kind kind = Kind::kName;
  std::string text;    // name, string value, or the literal's spelling
  int64_t number = 0;  // integers; dates and timestamps as Unix seconds (UTC)
  bool boolean = false;
  Span span;
};

// `[a, b]`, a named set, `all` (only after `grant`), or an attribute whose
// value is a set of categories (only after `grant`: `subject.chosen_categories`).
struct ValueList {
  std::vector<Literal> values;
  std::optional<std::string> set_name;
  bool all = false;
  std::string attr;  // dotted attribute path, when granted by attribute
  Span span;
};

struct AttrPath {
  std::vector<std::string> parts;  // {"subject", "roles"}
  Span span;
  std::string Dotted() const;
};

enum class AtomOp : uint8_t {
  kTruthy,  // a bare bool attribute
  kEq, kNe, kLt, kLe, kGt, kGe,
  kIn, kNotIn,
  kHas, kHasAny, kHasAll, kHasNone, kIsEmpty,
  kIsKnown, kIsUnknown, kIsNone,
};
const char* AtomOpSpelling(AtomOp op);

struct AtomExpr {
  AttrPath attr;
  AtomOp op = AtomOp::kTruthy;
  std::optional<Literal> value;  // ==, !=, <, …, has
  ValueList list;                // in, not in, has_any, has_all, has_none
};
struct BoolExpr { bool value; };
struct NotExpr { ExprId child; };
struct AndExpr { std::vector<ExprId> children; };
struct OrExpr { std::vector<ExprId> children; };
enum class Quantifier : uint8_t { kSome, kEvery, kNo };
struct QuantExpr {
  Quantifier kind;
  ExprId body;
};

struct Expr {
  Span span;
  std::variant<BoolExpr, AtomExpr, NotExpr, AndExpr, OrExpr, QuantExpr> node;
};

enum class ItemKind : uint8_t {
  kPack, kSchema, kSet, kFirewall, kForbid, kPermit, kAgreement, kNormalise, kGuarantee, kPin,
};
const char* ItemKindSpelling(ItemKind kind);

// One clause of an item: a keyword and its payload. Which payload fields are
// set depends on the keyword (see parser.cc's clause table).
struct Clause {
  Keyword keyword = Keyword::kNone;
  Span span;                 // the keyword
  ExprId expr = kNoExpr;     // when; never/always … when
  ValueList list;            // grant, withhold, obligations, parties, purposes, data,
                             // legal_basis, from, enum, set, never disclose, always obligations
  Literal value;             // because, source, retention, security, owner, title, import,
                             // review, to, layer
  std::string name;          // enum KIND; set NAME; context NAME; never permit|disclose
  Span name_span;
  std::string type_name;     // set NAME: KIND; context NAME: TYPE
  std::string type_arg;      // context NAME: set KIND
  Span type_span;
  bool required = false;     // context … required
  std::vector<Comment> leading;
  std::optional<Comment> trailing;
  bool blank_before = false;  // the author left a blank line before it (kept by fmt)
};

struct Item {
  ItemKind kind = ItemKind::kPack;
  Span span;  // the item keyword
  std::string name;
  Span name_span;
  std::vector<Clause> clauses;
  std::vector<Comment> leading;
  std::optional<Comment> trailing;  // after the closing brace or a one-line item
  Span end_span;

  const Clause* Find(Keyword kw) const;
};

struct Module {
  FileId file = 0;
  std::vector<Item> items;
  std::vector<Expr> exprs;
  std::vector<Comment> tail_comments;  // after the last item

  const Expr& expr(ExprId id) const { return exprs[id]; }
};

}  // namespace firebreak::policy
