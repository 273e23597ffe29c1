#include "policy/lexer.h"

#include <cctype>
#include <unordered_map>

namespace firebreak::policy {
namespace {

struct KeywordInfo {
  const char* spelling;
  bool reserved;
};

constexpr KeywordInfo kKeywords[] = {
    {"", false},
#define FB_KEYWORD_INFO(name, spelling, reserved) {spelling, reserved},
    FB_KEYWORDS(FB_KEYWORD_INFO)
#undef FB_KEYWORD_INFO
};

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(const SourceManager& sources, FileId file, DiagnosticSink& sink)
      : text_(sources.text(file)), file_(file), sink_(sink) {}

  LexResult Run() {
    LexResult out;
    for (;;) {
      SkipSpace(out);
      if (pos_ >= text_.size()) break;
      out.tokens.push_back(Next());
    }
    Token eof;
    eof.kind = TokenKind::kEof;
    eof.span = SpanAt(pos_, 0);
    out.tokens.push_back(eof);
    return out;
  }

 private:
  Span SpanAt(size_t start, size_t length) const {
    // Line and column are computed incrementally by the caller's bookkeeping.
    Span s;
    s.file = file_;
    s.offset = static_cast<uint32_t>(start);
    s.length = static_cast<uint32_t>(length);
    s.line = line_;
    s.column = static_cast<uint32_t>(start - line_start_ + 1);
    return s;
  }

  void SkipSpace(LexResult& out) {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') {
        ++pos_;
        ++line_;
        line_start_ = pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        size_t start = pos_;
        bool own_line = true;
        for (size_t i = line_start_; i < start; ++i) {
          if (text_[i] != ' ' && text_[i] != '\t') own_line = false;
        }
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
        Comment cm;
        cm.span = SpanAt(start, pos_ - start);
        cm.text = text_.substr(start + 1, pos_ - start - 1);
        while (!cm.text.empty() && (cm.text.back() == ' ' || cm.text.back() == '\r')) cm.text.pop_back();
        cm.own_line = own_line;
        out.comments.push_back(std::move(cm));
      } else {
        break;
      }
    }
  }

  Token Make(TokenKind kind, size_t start, std::string text = {}) {
    Token t;
    t.kind = kind;
    t.span = SpanAt(start, pos_ - start);
    t.text = std::move(text);
    return t;
  }

  Token Next() {
    size_t start = pos_;
    char c = text_[pos_];
    if (IsNameStart(c)) return LexName(start);
    if (IsDigit(c) || (c == '-' && pos_ + 1 < text_.size() && IsDigit(text_[pos_ + 1]))) {
      return LexNumberOrDate(start);
    }
    if (c == '"') return LexString(start);
    ++pos_;
    auto two = [&](char next, TokenKind yes, TokenKind no) {
      if (pos_ < text_.size() && text_[pos_] == next) {
        ++pos_;
        return Make(yes, start);
      }
      return Make(no, start);
    };
    switch (c) {
      case '{': return Make(TokenKind::kLBrace, start);
      case '}': return Make(TokenKind::kRBrace, start);
      case '[': return Make(TokenKind::kLBracket, start);
      case ']': return Make(TokenKind::kRBracket, start);
      case '(': return Make(TokenKind::kLParen, start);
      case ')': return Make(TokenKind::kRParen, start);
      case ',': return Make(TokenKind::kComma, start);
      case ':': return Make(TokenKind::kColon, start);
      case '.': return Make(TokenKind::kDot, start);
      case '=': return two('=', TokenKind::kEq, TokenKind::kAssign);
      case '<': return two('=', TokenKind::kLe, TokenKind::kLt);
      case '>': return two('=', TokenKind::kGe, TokenKind::kGt);
      case '!':
        if (pos_ < text_.size() && text_[pos_] == '=') {
          ++pos_;
          return Make(TokenKind::kNe, start);
        }
        break;
      default:
        break;
    }
    // Consume a whole UTF-8 sequence so the caret points at one character.
    while (pos_ < text_.size() && (static_cast<unsigned char>(text_[pos_]) & 0xC0) == 0x80) ++pos_;
    Token t = Make(TokenKind::kError, start);
    std::string shown = text_.substr(start, pos_ - start);
    sink_.Error(DiagnosticId::kUnexpectedCharacter, t.span,
                "unexpected character `" + shown + "`");
    return t;
  }

  Token LexName(size_t start) {
    while (pos_ < text_.size()) {
      if (IsNameChar(text_[pos_])) {
        ++pos_;
      } else if (text_[pos_] == '-' && pos_ + 1 < text_.size() && IsNameChar(text_[pos_ + 1])) {
        pos_ += 2;
      } else {
        break;
      }
    }
    std::string text = text_.substr(start, pos_ - start);
    Token t = Make(TokenKind::kName, start, text);
    t.keyword = LookupKeyword(text);
    return t;
  }

  Token LexNumberOrDate(size_t start) {
    if (text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    size_t digits = pos_ - start;
    // A date: exactly YYYY-MM-DD, optionally THH:MM:SSZ.
    if (digits == 4 && text_[start] != '-' && pos_ < text_.size() && text_[pos_] == '-') {
      while (pos_ < text_.size() &&
             (IsDigit(text_[pos_]) || text_[pos_] == '-' || text_[pos_] == 'T' ||
              text_[pos_] == ':' || text_[pos_] == 'Z')) {
        ++pos_;
      }
      std::string text = text_.substr(start, pos_ - start);
      bool is_date = text.size() == 10;
      bool is_ts = text.size() == 20;
      auto d = [&](size_t i) { return i < text.size() && IsDigit(text[i]); };
      bool ok = (is_date || is_ts) && d(0) && d(1) && d(2) && d(3) && text[4] == '-' && d(5) &&
                d(6) && text[7] == '-' && d(8) && d(9);
      if (ok && is_ts) {
        ok = text[10] == 'T' && d(11) && d(12) && text[13] == ':' && d(14) && d(15) &&
             text[16] == ':' && d(17) && d(18) && text[19] == 'Z';
      }
      if (!ok) {
        Token t = Make(TokenKind::kError, start, text);
        sink_.Error(DiagnosticId::kBadDate, t.span,
                    "malformed date `" + text +
                        "`: write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
        return t;
      }
      return Make(is_date ? TokenKind::kDate : TokenKind::kTimestamp, start, text);
    }
    if (pos_ < text_.size() && IsNameStart(text_[pos_])) {
      while (pos_ < text_.size() && (IsNameChar(text_[pos_]) || text_[pos_] == '-')) ++pos_;
      Token t = Make(TokenKind::kError, start, text_.substr(start, pos_ - start));
      sink_.Error(DiagnosticId::kBadNumber, t.span,
                  "malformed number `" + t.text + "`: names must start with a letter");
      return t;
    }
    std::string text = text_.substr(start, pos_ - start);
    if (text.size() > 19) {
      Token t = Make(TokenKind::kError, start, text);
      sink_.Error(DiagnosticId::kBadNumber, t.span, "integer `" + text + "` is out of range");
      return t;
    }
    return Make(TokenKind::kInt, start, text);
  }

  Token LexString(size_t start) {
    ++pos_;  // opening quote
    std::string value;
    while (pos_ < text_.size() && text_[pos_] != '"' && text_[pos_] != '\n') {
      char c = text_[pos_];
      if (c == '\\') {
        if (pos_ + 1 >= text_.size() || text_[pos_ + 1] == '\n') break;
        char e = text_[pos_ + 1];
        switch (e) {
          case '"': value += '"'; break;
          case '\\': value += '\\'; break;
          case 'n': value += '\n'; break;
          case 't': value += '\t'; break;
          default: {
            Span s = SpanAt(pos_, 2);
            sink_.Error(DiagnosticId::kBadEscape, s,
                        std::string("unknown escape `\\") + e + "` in string");
          }
        }
        pos_ += 2;
        continue;
      }
      value += c;
      ++pos_;
    }
    if (pos_ >= text_.size() || text_[pos_] != '"') {
      Token t = Make(TokenKind::kError, start, value);
      sink_.Error(DiagnosticId::kUnterminatedString, SpanAt(start, 1),
                  "unterminated string: a string ends with `\"` on the same line");
      return t;
    }
    ++pos_;
    return Make(TokenKind::kString, start, std::move(value));
  }

  const std::string& text_;
  FileId file_;
  DiagnosticSink& sink_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  size_t line_start_ = 0;
};

}  // namespace

const char* TokenKindName(TokenKind kind) {
  switch (kind) {
#define FB_TOKEN_CASE(name, spelling) \
  case TokenKind::name:               \
    return spelling;
    FB_TOKEN_KINDS(FB_TOKEN_CASE)
#undef FB_TOKEN_CASE
  }
  return "token";
}

Keyword LookupKeyword(std::string_view text) {
  static const std::unordered_map<std::string_view, Keyword> table = [] {
    std::unordered_map<std::string_view, Keyword> m;
    for (size_t i = 1; i < std::size(kKeywords); ++i) {
      m.emplace(kKeywords[i].spelling, static_cast<Keyword>(i));
    }
    return m;
  }();
  auto it = table.find(text);
  return it == table.end() ? Keyword::kNone : it->second;
}

const char* KeywordSpelling(Keyword kw) { return kKeywords[static_cast<size_t>(kw)].spelling; }
bool IsReserved(Keyword kw) { return kKeywords[static_cast<size_t>(kw)].reserved; }

LexResult Lex(const SourceManager& sources, FileId file, DiagnosticSink& sink) {
  return Lexer(sources, file, sink).Run();
}

}  // namespace firebreak::policy
