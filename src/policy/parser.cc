#include "policy/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "policy/lexer.h"

namespace firebreak::policy {

std::string AttrPath::Dotted() const {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += '.';
    out += parts[i];
  }
  return out;
}

const char* AtomOpSpelling(AtomOp op) {
  switch (op) {
    case AtomOp::kTruthy: return "";
    case AtomOp::kEq: return "==";
    case AtomOp::kNe: return "!=";
    case AtomOp::kLt: return "<";
    case AtomOp::kLe: return "<=";
    case AtomOp::kGt: return ">";
    case AtomOp::kGe: return ">=";
    case AtomOp::kIn: return "in";
    case AtomOp::kNotIn: return "not in";
    case AtomOp::kHas: return "has";
    case AtomOp::kHasAny: return "has_any";
    case AtomOp::kHasAll: return "has_all";
    case AtomOp::kHasNone: return "has_none";
    case AtomOp::kIsEmpty: return "is empty";
    case AtomOp::kIsKnown: return "is known";
    case AtomOp::kIsUnknown: return "is unknown";
    case AtomOp::kIsNone: return "is none";
  }
  return "?";
}

const char* ItemKindSpelling(ItemKind kind) {
  switch (kind) {
    case ItemKind::kPack: return "pack";
    case ItemKind::kSchema: return "schema";
    case ItemKind::kSet: return "set";
    case ItemKind::kFirewall: return "firewall";
    case ItemKind::kForbid: return "forbid";
    case ItemKind::kPermit: return "permit";
    case ItemKind::kAgreement: return "agreement";
    case ItemKind::kNormalise: return "normalise";
    case ItemKind::kGuarantee: return "guarantee";
    case ItemKind::kPin: return "pin";
  }
  return "item";
}

const Clause* Item::Find(Keyword kw) const {
  for (const Clause& c : clauses) {
    if (c.keyword == kw) return &c;
  }
  return nullptr;
}

bool CivilToUnixSeconds(int y, int m, int d, int hh, int mm, int ss, int64_t* out) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59) {
    return false;
  }
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int dim = kDays[m - 1] + (m == 2 && leap ? 1 : 0);
  if (d > dim) return false;
  // Howard Hinnant's days_from_civil.
  int64_t yy = y - (m <= 2 ? 1 : 0);
  int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  int64_t yoe = yy - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  *out = days * 86400 + hh * 3600 + mm * 60 + ss;
  return true;
}

bool ParseTimestamp(std::string_view t, int64_t* out) {
  auto num = [&](size_t pos, size_t len, int* v) {
    if (pos + len > t.size()) return false;
    for (size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
    }
    std::from_chars(t.data() + pos, t.data() + pos + len, *v);
    return true;
  };
  int y, mo, d, h = 0, mi = 0, s = 0;
  if (t.size() != 10 && t.size() != 20) return false;
  if (!num(0, 4, &y) || t[4] != '-' || !num(5, 2, &mo) || t[7] != '-' || !num(8, 2, &d)) {
    return false;
  }
  if (t.size() == 20) {
    if (t[10] != 'T' || !num(11, 2, &h) || t[13] != ':' || !num(14, 2, &mi) || t[16] != ':' ||
        !num(17, 2, &s) || t[19] != 'Z') {
      return false;
    }
  }
  return CivilToUnixSeconds(y, mo, d, h, mi, s, out);
}

std::string FormatTimestamp(int64_t seconds, bool date_only) {
  int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  int64_t secs = seconds - days * 86400;
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp + (mp < 10 ? 3 : -9);
  if (m <= 2) ++y;
  if (date_only) return fmt::format("{:04}-{:02}-{:02}", y, m, d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, secs / 3600, secs / 60 % 60,
                     secs % 60);
}

namespace {

// What follows a clause keyword.
enum class Payload { kExpr, kList, kGrantList, kString, kDate, kName, kGuarantee, kEnum, kSet, kContext };

struct ClauseSyntax {
  Keyword keyword;
  Payload payload;
};

constexpr ClauseSyntax kClauseSyntax[] = {
    {Keyword::kWhen, Payload::kExpr},         {Keyword::kGrant, Payload::kGrantList},
    {Keyword::kWithhold, Payload::kList},     {Keyword::kObligations, Payload::kList},
    {Keyword::kParties, Payload::kList},      {Keyword::kPurposes, Payload::kList},
    {Keyword::kData, Payload::kList},         {Keyword::kLegalBasis, Payload::kList},
    {Keyword::kFrom, Payload::kList},         {Keyword::kBecause, Payload::kString},
    {Keyword::kSource, Payload::kString},     {Keyword::kRetention, Payload::kString},
    {Keyword::kSecurity, Payload::kString},   {Keyword::kOwner, Payload::kString},
    {Keyword::kTitle, Payload::kString},      {Keyword::kImport, Payload::kString},
    {Keyword::kReview, Payload::kDate},       {Keyword::kTo, Payload::kName},
    {Keyword::kLayer, Payload::kName},        {Keyword::kNever, Payload::kGuarantee},
    {Keyword::kAlways, Payload::kGuarantee},  {Keyword::kEnum, Payload::kEnum},
    {Keyword::kSet, Payload::kSet},           {Keyword::kContext, Payload::kContext},
};

const ClauseSyntax* FindClauseSyntax(Keyword kw) {
  for (const ClauseSyntax& s : kClauseSyntax) {
    if (s.keyword == kw) return &s;
  }
  return nullptr;
}

struct ItemRules {
  ItemKind kind;
  std::vector<Keyword> allowed;   // in canonical order
  std::vector<Keyword> required;
  std::vector<Keyword> repeatable;
};

const std::vector<ItemRules>& AllItemRules() {
  using K = Keyword;
  static const std::vector<ItemRules> rules = {
      {ItemKind::kPack, {K::kLayer, K::kTitle, K::kImport}, {K::kLayer}, {K::kImport}},
      {ItemKind::kSchema, {K::kEnum, K::kSet, K::kContext}, {}, {K::kEnum, K::kSet, K::kContext}},
      {ItemKind::kFirewall,
       {K::kWhen, K::kObligations, K::kBecause, K::kSource},
       {K::kWhen, K::kBecause},
       {}},
      {ItemKind::kForbid,
       {K::kWhen, K::kObligations, K::kBecause, K::kSource},
       {K::kWhen, K::kBecause},
       {}},
      {ItemKind::kPermit,
       {K::kWhen, K::kGrant, K::kWithhold, K::kObligations, K::kBecause, K::kSource},
       {K::kWhen, K::kGrant, K::kBecause},
       {}},
      {ItemKind::kAgreement,
       {K::kParties, K::kPurposes, K::kData, K::kWithhold, K::kLegalBasis, K::kRetention,
        K::kSecurity, K::kReview, K::kOwner, K::kWhen, K::kObligations, K::kBecause, K::kSource},
       {K::kParties, K::kPurposes, K::kData, K::kLegalBasis, K::kRetention, K::kSecurity,
        K::kReview, K::kOwner, K::kBecause},
       {}},
      {ItemKind::kNormalise,
       {K::kFrom, K::kTo, K::kWhen, K::kBecause, K::kSource},
       {K::kFrom, K::kTo, K::kBecause},
       {}},
      {ItemKind::kGuarantee, {K::kNever, K::kAlways, K::kBecause, K::kSource}, {K::kBecause}, {}},
  };
  return rules;
}

class Parser {
 public:
  Parser(const SourceManager& sources, FileId file, DiagnosticSink& sink)
      : sink_(sink), lex_(Lex(sources, file, sink)) {
    module_.file = file;
  }

  // file := item*
  Module Run() {
    while (!At(TokenKind::kEof)) {
      size_t before = pos_;
      ParseItem();
      if (pos_ == before) Advance();  // always make progress
    }
    AttachTailComments();
    return std::move(module_);
  }

 private:
  // ---- token helpers ----
  const Token& Peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, lex_.tokens.size() - 1);
    return lex_.tokens[i];
  }
  bool At(TokenKind k) const { return Peek().kind == k; }
  bool AtKeyword(Keyword kw) const { return Peek().kind == TokenKind::kName && Peek().keyword == kw; }
  const Token& Advance() {
    const Token& t = lex_.tokens[pos_];
    if (pos_ + 1 < lex_.tokens.size()) ++pos_;
    return t;
  }

  struct SyntaxError {};

  [[noreturn]] void Fail(const std::string& expected) {
    const Token& t = Peek();
    std::string found = t.kind == TokenKind::kName ? "`" + t.text + "`"
                        : t.kind == TokenKind::kString ? "string \"" + t.text + "\""
                        : t.kind == TokenKind::kInt || t.kind == TokenKind::kDate ? "`" + t.text + "`"
                                                                                  : TokenKindName(t.kind);
    if (t.kind != TokenKind::kError) {
      sink_.Error(DiagnosticId::kExpected, t.span, "expected " + expected + ", found " + found);
    }
    throw SyntaxError{};
  }

  const Token& Expect(TokenKind k, const char* what = nullptr) {
    if (!At(k)) Fail(what ? what : TokenKindName(k));
    return Advance();
  }

  void ExpectKeyword(Keyword kw) {
    if (!AtKeyword(kw)) Fail(std::string("`") + KeywordSpelling(kw) + "`");
    Advance();
  }

  // A name usable for rules, values and sets: not a reserved keyword.
  const Token& ExpectName(const char* what) {
    if (!At(TokenKind::kName)) Fail(what);
    if (IsReserved(Peek().keyword)) {
      sink_.Error(DiagnosticId::kReservedName, Peek().span,
                  "`" + Peek().text + "` is a reserved word and cannot be used as " + what);
      throw SyntaxError{};
    }
    return Advance();
  }

  // Skips to just after the `}` that closes the current item, or to the next
  // line that starts an item, whichever comes first.
  void Recover(int depth) {
    while (!At(TokenKind::kEof)) {
      if (At(TokenKind::kLBrace)) ++depth;
      if (At(TokenKind::kRBrace)) {
        Advance();
        if (--depth <= 0) return;
        continue;
      }
      if (depth <= 1 && At(TokenKind::kName) && IsItemKeyword(Peek().keyword) &&
          Peek().span.column == 1) {
        return;
      }
      Advance();
    }
  }

  static bool IsItemKeyword(Keyword kw) {
    switch (kw) {
      case Keyword::kPack: case Keyword::kSchema: case Keyword::kSet: case Keyword::kFirewall:
      case Keyword::kForbid: case Keyword::kPermit: case Keyword::kAgreement:
      case Keyword::kNormalise: case Keyword::kGuarantee: case Keyword::kPin:
        return true;
      default:
        return false;
    }
  }

  static std::optional<ItemKind> ItemKindOf(Keyword kw) {
    switch (kw) {
      case Keyword::kPack: return ItemKind::kPack;
      case Keyword::kSchema: return ItemKind::kSchema;
      case Keyword::kSet: return ItemKind::kSet;
      case Keyword::kFirewall: return ItemKind::kFirewall;
      case Keyword::kForbid: return ItemKind::kForbid;
      case Keyword::kPermit: return ItemKind::kPermit;
      case Keyword::kAgreement: return ItemKind::kAgreement;
      case Keyword::kNormalise: return ItemKind::kNormalise;
      case Keyword::kGuarantee: return ItemKind::kGuarantee;
      case Keyword::kPin: return ItemKind::kPin;
      default: return std::nullopt;
    }
  }

  // ---- comments ----
  std::vector<Comment> TakeCommentsBefore(uint32_t offset) {
    std::vector<Comment> out;
    while (next_comment_ < lex_.comments.size() &&
           lex_.comments[next_comment_].span.offset < offset) {
      out.push_back(lex_.comments[next_comment_++]);
    }
    return out;
  }
  // A comment on `line` right after the last token.
  std::optional<Comment> TakeTrailingOn(uint32_t line) {
    if (next_comment_ >= lex_.comments.size()) return std::nullopt;
    const Comment& c = lex_.comments[next_comment_];
    if (c.own_line || c.span.line != line) return std::nullopt;
    if (!At(TokenKind::kEof) && c.span.offset > Peek().span.offset) return std::nullopt;
    return lex_.comments[next_comment_++];
  }
  uint32_t LastLine() const { return pos_ > 0 ? lex_.tokens[pos_ - 1].span.line : 1; }
  void AttachTailComments() {
    while (next_comment_ < lex_.comments.size()) {
      module_.tail_comments.push_back(lex_.comments[next_comment_++]);
    }
  }

  // ---- items ----

  // item := ITEMKW NAME '{' clause* '}'
  //       | 'set' NAME ':' NAME '=' list
  //       | 'pin' NAME STRING
  void ParseItem() {
    Item item;
    item.leading = TakeCommentsBefore(Peek().span.offset);
    const Token& kw = Peek();
    std::optional<ItemKind> kind =
        kw.kind == TokenKind::kName ? ItemKindOf(kw.keyword) : std::nullopt;
    if (!kind) {
      if (kw.kind != TokenKind::kError) {
        sink_.Error(DiagnosticId::kUnknownItem, kw.span,
                    "expected an item (pack, schema, set, firewall, forbid, permit, agreement, "
                    "normalise, guarantee or pin), found " +
                        (kw.kind == TokenKind::kName ? "`" + kw.text + "`"
                                                     : std::string(TokenKindName(kw.kind))));
      }
      Advance();
      Recover(0);
      return;
    }
    item.kind = *kind;
    item.span = kw.span;
    Advance();
    try {
      const Token& name = ExpectName("a name");
      item.name = name.text;
      item.name_span = name.span;
      if (item.kind == ItemKind::kSet) {
        Clause c;
        c.keyword = Keyword::kSet;
        c.span = item.span;
        c.name = item.name;
        c.name_span = item.name_span;
        ParseSetTail(c);
        item.clauses.push_back(std::move(c));
        item.end_span = lex_.tokens[pos_ - 1].span;
        item.trailing = TakeTrailingOn(LastLine());
        module_.items.push_back(std::move(item));
        return;
      }
      if (item.kind == ItemKind::kPin) {
        const Token& hash = Expect(TokenKind::kString, "the pinned hash as a string");
        Clause c;
        c.keyword = Keyword::kPin;
        c.span = item.span;
        c.value = StringLiteral(hash);
        item.clauses.push_back(std::move(c));
        item.end_span = hash.span;
        item.trailing = TakeTrailingOn(LastLine());
        module_.items.push_back(std::move(item));
        return;
      }
      Expect(TokenKind::kLBrace, "`{`");
      while (!At(TokenKind::kRBrace) && !At(TokenKind::kEof)) {
        item.clauses.push_back(ParseClause(item.kind));
      }
      item.end_span = Expect(TokenKind::kRBrace, "`}`").span;
      item.trailing = TakeTrailingOn(LastLine());
    } catch (const SyntaxError&) {
      Recover(At(TokenKind::kLBrace) ? 0 : 1);
      return;  // a broken item is not kept: it would only cause follow-on errors
    }
    ValidateClauses(item);
    module_.items.push_back(std::move(item));
  }

  void ValidateClauses(const Item& item) {
    for (const ItemRules& r : AllItemRules()) {
      if (r.kind != item.kind) continue;
      auto contains = [](const std::vector<Keyword>& v, Keyword k) {
        return std::find(v.begin(), v.end(), k) != v.end();
      };
      for (size_t i = 0; i < item.clauses.size(); ++i) {
        const Clause& c = item.clauses[i];
        if (!contains(r.allowed, c.keyword)) {
          std::string allowed;
          for (Keyword k : r.allowed) allowed += std::string(allowed.empty() ? "" : ", ") + KeywordSpelling(k);
          sink_.Error(DiagnosticId::kUnknownClause, c.span,
                      fmt::format("`{}` is not a clause of a {} (allowed: {})",
                                  KeywordSpelling(c.keyword), ItemKindSpelling(item.kind), allowed));
          continue;
        }
        bool repeat = contains(r.repeatable, c.keyword) ||
                      (item.kind == ItemKind::kGuarantee &&
                       (c.keyword == Keyword::kNever || c.keyword == Keyword::kAlways));
        if (repeat) continue;
        for (size_t j = 0; j < i; ++j) {
          if (item.clauses[j].keyword == c.keyword) {
            sink_.Error(DiagnosticId::kDuplicateClause, c.span,
                        fmt::format("duplicate `{}` in {} `{}`", KeywordSpelling(c.keyword),
                                    ItemKindSpelling(item.kind), item.name));
            break;
          }
        }
      }
      for (Keyword k : r.required) {
        if (!item.Find(k)) {
          sink_.Error(DiagnosticId::kMissingClause, item.name_span,
                      fmt::format("{} `{}` has no `{}` clause", ItemKindSpelling(item.kind),
                                  item.name, KeywordSpelling(k)));
        }
      }
      if (item.kind == ItemKind::kGuarantee) {
        int forms = 0;
        for (const Clause& c : item.clauses) {
          forms += c.keyword == Keyword::kNever || c.keyword == Keyword::kAlways;
        }
        if (forms != 1) {
          sink_.Error(forms == 0 ? DiagnosticId::kMissingClause : DiagnosticId::kDuplicateClause,
                      item.name_span,
                      fmt::format("guarantee `{}` must state exactly one property "
                                  "(`never permit when …`, `never disclose [..] when …` or "
                                  "`always obligations [..] when …`)",
                                  item.name));
        }
      }
    }
  }

  // clause := KEYWORD payload   (see kClauseSyntax)
  Clause ParseClause(ItemKind item_kind) {
    Clause c;
    uint32_t previous_line = LastLine();
    c.leading = TakeCommentsBefore(Peek().span.offset);
    uint32_t first_line = c.leading.empty() ? Peek().span.line : c.leading.front().span.line;
    c.blank_before = first_line > previous_line + 1;
    const Token& kw = Peek();
    const ClauseSyntax* syntax =
        kw.kind == TokenKind::kName ? FindClauseSyntax(kw.keyword) : nullptr;
    if (!syntax) {
      if (kw.kind == TokenKind::kName) {
        sink_.Error(DiagnosticId::kUnknownClause, kw.span,
                    fmt::format("unknown clause `{}` in a {}", kw.text, ItemKindSpelling(item_kind)));
        throw SyntaxError{};
      }
      Fail("a clause or `}`");
    }
    c.keyword = kw.keyword;
    c.span = kw.span;
    Advance();
    switch (syntax->payload) {
      case Payload::kExpr:
        c.expr = ParseExpr();
        break;
      case Payload::kList:
        c.list = ParseList(false);
        break;
      case Payload::kGrantList:
        c.list = ParseList(true);
        break;
      case Payload::kString:
        c.value = StringLiteral(Expect(TokenKind::kString, "a string"));
        break;
      case Payload::kDate: {
        if (!At(TokenKind::kDate)) Fail("a date (YYYY-MM-DD)");
        c.value = ParseValue();
        break;
      }
      case Payload::kName: {
        const Token& n = ExpectName("a name");
        c.value.kind = Literal::Kind::kName;
        c.value.text = n.text;
        c.value.span = n.span;
        break;
      }
      case Payload::kGuarantee:
        ParseGuaranteeBody(c);
        break;
      case Payload::kEnum: {
        const Token& n = Expect(TokenKind::kName, "an enum kind");
        c.name = n.text;
        c.name_span = n.span;
        c.list = ParseList(false);
        break;
      }
      case Payload::kSet: {
        const Token& n = ExpectName("a set name");
        c.name = n.text;
        c.name_span = n.span;
        ParseSetTail(c);
        break;
      }
      case Payload::kContext:
        ParseContextDecl(c);
        break;
    }
    c.trailing = TakeTrailingOn(LastLine());
    return c;
  }

  // guarantee_body := 'never' 'permit' 'when' expr
  //                 | 'never' 'disclose' list 'when' expr
  //                 | 'always' 'obligations' list 'when' expr
  //                 | 'always' 'permit' 'when' expr
  void ParseGuaranteeBody(Clause& c) {
    c.name_span = Peek().span;
    if (c.keyword == Keyword::kNever) {
      if (AtKeyword(Keyword::kPermit)) {
        c.name = "permit";
        Advance();
      } else if (AtKeyword(Keyword::kDisclose)) {
        c.name = "disclose";
        Advance();
        c.list = ParseList(false);
      } else {
        Fail("`permit` or `disclose` after `never`");
      }
    } else if (AtKeyword(Keyword::kPermit)) {
      c.name = "permit";
      Advance();
    } else {
      if (!AtKeyword(Keyword::kObligations)) Fail("`obligations` or `permit` after `always`");
      c.name = "obligations";
      Advance();
      c.list = ParseList(false);
    }
    ExpectKeyword(Keyword::kWhen);
    c.expr = ParseExpr();
  }

  // set_tail := ':' NAME '=' list
  void ParseSetTail(Clause& c) {
    Expect(TokenKind::kColon, "`:` and the kind of the set's values");
    const Token& kind = Expect(TokenKind::kName, "an enum kind");
    c.type_name = kind.text;
    c.type_span = kind.span;
    Expect(TokenKind::kAssign, "`=`");
    c.list = ParseList(false);
    if (c.list.set_name) {
      sink_.Error(DiagnosticId::kExpected, c.list.span,
                  "a set is defined by a list of values in `[` `]`");
    }
  }

  // context_decl := NAME ':' TYPE ('required' | 'optional')
  // TYPE := NAME | 'set' NAME
  void ParseContextDecl(Clause& c) {
    const Token& n = ExpectName("a context name");
    c.name = n.text;
    c.name_span = n.span;
    Expect(TokenKind::kColon, "`:` and a type");
    const Token& t = Expect(TokenKind::kName, "a type");
    c.type_span = t.span;
    c.type_name = t.text;
    if (t.keyword == Keyword::kSet) {
      const Token& arg = Expect(TokenKind::kName, "an enum kind after `set`");
      c.type_arg = arg.text;
      c.type_span.length = arg.span.offset + arg.span.length - t.span.offset;
    }
    if (AtKeyword(Keyword::kRequired)) {
      c.required = true;
      Advance();
    } else if (AtKeyword(Keyword::kOptional)) {
      Advance();
    } else {
      Fail("`required` or `optional`");
    }
  }

  Literal StringLiteral(const Token& t) {
    Literal l;
    l.kind = Literal::Kind::kString;
    l.text = t.text;
    l.span = t.span;
    return l;
  }

  // value := NAME | STRING | INT | DATE | TIMESTAMP | 'true' | 'false'
  Literal ParseValue() {
    const Token& t = Peek();
    Literal l;
    l.span = t.span;
    l.text = t.text;
    switch (t.kind) {
      case TokenKind::kString:
        l.kind = Literal::Kind::kString;
        break;
      case TokenKind::kInt: {
        l.kind = Literal::Kind::kInt;
        auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), l.number);
        if (r.ec != std::errc()) {
          sink_.Error(DiagnosticId::kBadNumber, t.span, "integer `" + t.text + "` is out of range");
        }
        break;
      }
      case TokenKind::kDate:
      case TokenKind::kTimestamp:
        l.kind = t.kind == TokenKind::kDate ? Literal::Kind::kDate : Literal::Kind::kTimestamp;
        if (!ParseTimestamp(t.text, &l.number)) {
          sink_.Error(DiagnosticId::kBadDate, t.span, "`" + t.text + "` is not a calendar date");
        }
        break;
      case TokenKind::kName:
        if (t.keyword == Keyword::kTrue || t.keyword == Keyword::kFalse) {
          l.kind = Literal::Kind::kBool;
          l.boolean = t.keyword == Keyword::kTrue;
          break;
        }
        // A clause keyword starting a new line means the value is missing;
        // taking it as a value would only cascade into confusing errors.
        if (FindClauseSyntax(t.keyword) && pos_ > 0 &&
            lex_.tokens[pos_ - 1].span.line != t.span.line) {
          Fail("a value");
        }
        ExpectName("a value");
        return FinishName(l);
      default:
        Fail("a value");
    }
    Advance();
    return l;
  }
  Literal FinishName(Literal l) {
    l.kind = Literal::Kind::kName;
    return l;
  }

  // list := '[' (value (',' value)* ','?)? ']' | SETNAME      (grant also: 'all' | path)
  ValueList ParseList(bool allow_all) {
    ValueList list;
    list.span = Peek().span;
    if (allow_all && AtKeyword(Keyword::kAll)) {
      list.all = true;
      Advance();
      return list;
    }
    if (allow_all && At(TokenKind::kName) && Peek(1).kind == TokenKind::kDot) {
      AttrPath path = ParsePath();
      list.attr = path.Dotted();
      list.span = path.span;
      return list;
    }
    if (At(TokenKind::kName) && !IsReserved(Peek().keyword)) {
      list.set_name = Advance().text;
      return list;
    }
    Expect(TokenKind::kLBracket, allow_all ? "`[`, a set name or `all`" : "`[` or a set name");
    while (!At(TokenKind::kRBracket)) {
      list.values.push_back(ParseValue());
      if (!At(TokenKind::kComma)) break;
      Advance();
    }
    const Token& close = Expect(TokenKind::kRBracket, "`,` or `]`");
    list.span.length = close.span.offset + close.span.length - list.span.offset;
    return list;
  }

  // ---- expressions ----
  ExprId Add(Span span, decltype(Expr::node) node) {
    module_.exprs.push_back(Expr{span, std::move(node)});
    return static_cast<ExprId>(module_.exprs.size() - 1);
  }
  Span Join(Span a, Span b) const {
    Span s = a;
    if (b.offset + b.length > a.offset) s.length = b.offset + b.length - a.offset;
    return s;
  }

  // expr := and_expr ('or' and_expr)*
  ExprId ParseExpr() {
    ExprId first = ParseAnd();
    if (!AtKeyword(Keyword::kOr)) return first;
    std::vector<ExprId> kids{first};
    while (AtKeyword(Keyword::kOr)) {
      Advance();
      kids.push_back(ParseAnd());
    }
    Span s = Join(module_.exprs[first].span, module_.exprs[kids.back()].span);
    return Add(s, OrExpr{std::move(kids)});
  }

  // and_expr := unary ('and' unary)*
  ExprId ParseAnd() {
    ExprId first = ParseUnary();
    if (!AtKeyword(Keyword::kAnd)) return first;
    std::vector<ExprId> kids{first};
    while (AtKeyword(Keyword::kAnd)) {
      Advance();
      kids.push_back(ParseUnary());
    }
    Span s = Join(module_.exprs[first].span, module_.exprs[kids.back()].span);
    return Add(s, AndExpr{std::move(kids)});
  }

  // unary := 'not' unary | quant | atom
  // quant := ('some' | 'every' | 'no') 'case' 'where' unary
  ExprId ParseUnary() {
    const Token& t = Peek();
    if (AtKeyword(Keyword::kNot)) {
      Advance();
      ExprId child = ParseUnary();
      return Add(Join(t.span, module_.exprs[child].span), NotExpr{child});
    }
    if (AtKeyword(Keyword::kSome) || AtKeyword(Keyword::kEvery) || AtKeyword(Keyword::kNo)) {
      Quantifier q = t.keyword == Keyword::kSome    ? Quantifier::kSome
                     : t.keyword == Keyword::kEvery ? Quantifier::kEvery
                                                    : Quantifier::kNo;
      Span start = t.span;
      Advance();
      ExpectKeyword(Keyword::kCase);
      ExpectKeyword(Keyword::kWhere);
      if (in_quantifier_) {
        sink_.Error(DiagnosticId::kNestedQuantifier, start,
                    "quantifiers cannot be nested: a case has no cases of its own");
      }
      bool saved = in_quantifier_;
      in_quantifier_ = true;
      ExprId body = ParseUnary();
      in_quantifier_ = saved;
      return Add(Join(start, module_.exprs[body].span), QuantExpr{q, body});
    }
    return ParseAtom();
  }

  // atom := '(' expr ')' | 'true' | 'false' | path [operator operand]
  ExprId ParseAtom() {
    const Token& t = Peek();
    if (At(TokenKind::kLParen)) {
      Advance();
      ExprId inner = ParseExpr();
      const Token& close = Expect(TokenKind::kRParen, "`)`");
      module_.exprs[inner].span = Join(t.span, close.span);
      return inner;
    }
    if (AtKeyword(Keyword::kTrue) || AtKeyword(Keyword::kFalse)) {
      Advance();
      return Add(t.span, BoolExpr{t.keyword == Keyword::kTrue});
    }
    if (!At(TokenKind::kName) || IsReserved(t.keyword)) Fail("a condition");
    AtomExpr atom;
    atom.attr = ParsePath();
    Span span = atom.attr.span;
    auto finish = [&](Span end) { return Add(Join(span, end), std::move(atom)); };
    const Token& op = Peek();
    switch (op.kind) {
      case TokenKind::kEq: case TokenKind::kNe: case TokenKind::kLt:
      case TokenKind::kLe: case TokenKind::kGt: case TokenKind::kGe: {
        static constexpr std::pair<TokenKind, AtomOp> kOps[] = {
            {TokenKind::kEq, AtomOp::kEq}, {TokenKind::kNe, AtomOp::kNe},
            {TokenKind::kLt, AtomOp::kLt}, {TokenKind::kLe, AtomOp::kLe},
            {TokenKind::kGt, AtomOp::kGt}, {TokenKind::kGe, AtomOp::kGe}};
        for (auto [k, o] : kOps) {
          if (k == op.kind) atom.op = o;
        }
        Advance();
        atom.value = ParseValue();
        return finish(atom.value->span);
      }
      default:
        break;
    }
    if (AtKeyword(Keyword::kNot)) {
      Advance();
      if (!AtKeyword(Keyword::kIn)) Fail("`in` after `not`");
      Advance();
      atom.op = AtomOp::kNotIn;
      atom.list = ParseList(false);
      return finish(atom.list.span);
    }
    if (AtKeyword(Keyword::kIn)) {
      Advance();
      atom.op = AtomOp::kIn;
      atom.list = ParseList(false);
      return finish(atom.list.span);
    }
    if (AtKeyword(Keyword::kHas)) {
      Advance();
      atom.op = AtomOp::kHas;
      atom.value = ParseValue();
      return finish(atom.value->span);
    }
    if (AtKeyword(Keyword::kHasAny) || AtKeyword(Keyword::kHasAll) || AtKeyword(Keyword::kHasNone)) {
      atom.op = op.keyword == Keyword::kHasAny   ? AtomOp::kHasAny
                : op.keyword == Keyword::kHasAll ? AtomOp::kHasAll
                                                 : AtomOp::kHasNone;
      Advance();
      atom.list = ParseList(false);
      return finish(atom.list.span);
    }
    if (AtKeyword(Keyword::kIs)) {
      Advance();
      const Token& what = Peek();
      if (AtKeyword(Keyword::kEmpty)) {
        atom.op = AtomOp::kIsEmpty;
      } else if (AtKeyword(Keyword::kKnown)) {
        atom.op = AtomOp::kIsKnown;
      } else if (AtKeyword(Keyword::kUnknown)) {
        atom.op = AtomOp::kIsUnknown;
      } else if (At(TokenKind::kName) && Peek().text == "none") {
        atom.op = AtomOp::kIsNone;  // `none` stays an ordinary name (a concern value)
      } else {
        Fail("`empty`, `known`, `unknown` or `none` after `is`");
      }
      Advance();
      return finish(what.span);
    }
    atom.op = AtomOp::kTruthy;
    return Add(span, std::move(atom));
  }

  // path := NAME ('.' NAME)*
  AttrPath ParsePath() {
    AttrPath p;
    const Token& first = Advance();
    p.parts.push_back(first.text);
    p.span = first.span;
    while (At(TokenKind::kDot)) {
      Advance();
      const Token& n = Expect(TokenKind::kName, "an attribute name after `.`");
      p.parts.push_back(n.text);
      p.span = Join(p.span, n.span);
    }
    return p;
  }

  DiagnosticSink& sink_;
  LexResult lex_;
  size_t pos_ = 0;
  size_t next_comment_ = 0;
  bool in_quantifier_ = false;
  Module module_;
};

}  // namespace

Module Parse(const SourceManager& sources, FileId file, DiagnosticSink& sink) {
  return Parser(sources, file, sink).Run();
}

}  // namespace firebreak::policy
