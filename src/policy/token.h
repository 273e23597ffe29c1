// The token table: one X-macro generates the token kinds and their spellings,
// and the keyword table generates the keyword kinds the parser recognises.
// Keywords are contextual: the lexer marks them, the parser decides where a
// keyword may also serve as a name (`legal_basis` is a clause, an attribute
// and an enum kind).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policy/source.h"

namespace firebreak::policy {

#define FB_TOKEN_KINDS(T)       \
  T(kEof, "end of file")        \
  T(kName, "name")              \
  T(kString, "string")          \
  T(kInt, "integer")            \
  T(kDate, "date")              \
  T(kTimestamp, "timestamp")    \
  T(kLBrace, "`{`")             \
  T(kRBrace, "`}`")             \
  T(kLBracket, "`[`")           \
  T(kRBracket, "`]`")           \
  T(kLParen, "`(`")             \
  T(kRParen, "`)`")             \
  T(kComma, "`,`")              \
  T(kColon, "`:`")              \
  T(kDot, "`.`")                \
  T(kEq, "`==`")                \
  T(kNe, "`!=`")                \
  T(kLt, "`<`")                 \
  T(kLe, "`<=`")                \
  T(kGt, "`>`")                 \
  T(kGe, "`>=`")                \
  T(kAssign, "`=`")             \
  T(kError, "invalid token")

enum class TokenKind : uint8_t {
#define FB_TOKEN_ENUM(name, spelling) name,
  FB_TOKEN_KINDS(FB_TOKEN_ENUM)
#undef FB_TOKEN_ENUM
};

const char* TokenKindName(TokenKind kind);

// Keywords. `reserved` ones can never be names (rule names, values, sets),
// because they would make conditions ambiguous.
#define FB_KEYWORDS(K)                                                                   \
  K(kPack, "pack", false) K(kLayer, "layer", false) K(kImport, "import", false)           \
  K(kTitle, "title", false) K(kSchema, "schema", false) K(kEnum, "enum", false)           \
  K(kSet, "set", false) K(kContext, "context", false) K(kFirewall, "firewall", false)     \
  K(kForbid, "forbid", false) K(kPermit, "permit", false)                                 \
  K(kAgreement, "agreement", false) K(kNormalise, "normalise", false)                     \
  K(kGuarantee, "guarantee", false) K(kPin, "pin", false) K(kWhen, "when", true)          \
  K(kGrant, "grant", false) K(kWithhold, "withhold", false)                               \
  K(kObligations, "obligations", false) K(kBecause, "because", false)                     \
  K(kSource, "source", false) K(kParties, "parties", false)                               \
  K(kPurposes, "purposes", false) K(kData, "data", false)                                 \
  K(kLegalBasis, "legal_basis", false) K(kRetention, "retention", false)                  \
  K(kSecurity, "security", false) K(kReview, "review", false) K(kOwner, "owner", false)   \
  K(kFrom, "from", false) K(kTo, "to", false) K(kNever, "never", false)                   \
  K(kAlways, "always", false) K(kDisclose, "disclose", false) K(kAnd, "and", true)        \
  K(kOr, "or", true) K(kNot, "not", true) K(kIn, "in", true) K(kHas, "has", true)         \
  K(kHasAny, "has_any", true) K(kHasAll, "has_all", true) K(kHasNone, "has_none", true)   \
  K(kIs, "is", true) K(kEmpty, "empty", true) K(kKnown, "known", true)                    \
  K(kUnknown, "unknown", true) K(kSome, "some", true) K(kEvery, "every", true)            \
  K(kNo, "no", true) K(kCase, "case", false) K(kWhere, "where", true)                     \
  K(kTrue, "true", true) K(kFalse, "false", true) K(kAll, "all", true)                    \
  K(kRequired, "required", false) K(kOptional, "optional", false)                         \
  K(kBool, "bool", false) K(kInt, "int", false) K(kTimestamp, "timestamp", false)         \
  K(kId, "id", false)

enum class Keyword : uint8_t {
  kNone,
#define FB_KEYWORD_ENUM(name, spelling, reserved) name,
  FB_KEYWORDS(FB_KEYWORD_ENUM)
#undef FB_KEYWORD_ENUM
};

Keyword LookupKeyword(std::string_view text);
const char* KeywordSpelling(Keyword kw);
bool IsReserved(Keyword kw);

struct Token {
  TokenKind kind = TokenKind::kEof;
  Keyword keyword = Keyword::kNone;  // for kName tokens that spell a keyword
  Span span;
  std::string text;  // names: the name; strings: the decoded value; numbers: digits
};

// A comment, kept for the formatter.
struct Comment {
  Span span;
  std::string text;         // without the leading `#`
  bool own_line = false;    // nothing but white space before it on its line
};

}  // namespace firebreak::policy
