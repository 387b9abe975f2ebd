#include "core/tokenizer/jinja/lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/jinja/unicode.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

// Longest first, so "//" wins over "/".
constexpr absl::string_view kOperators[] = {
    "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
    "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";",
};

// Line breaks become "\n" and one final line break is dropped, as Jinja2 does by default
// (keep_trailing_newline=False).
std::string NormalizeNewlines(absl::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

// Decodes a string literal's body the way Jinja2 does (Python's "unicode-escape"): \n, \t,
// \\, \', \", \xhh, \uhhhh, \Uhhhhhhhh, octal \ooo, and a backslash before a line break joins
// the lines. Other backslashes stay.
absl::StatusOr<std::string> DecodeStringBody(absl::string_view body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out.push_back(body[i]);
      continue;
    }
    const char escape = body[++i];
    switch (escape) {
      case '\n': break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t digits = escape == 'x' ? 2 : escape == 'u' ? 4 : 8;
        const absl::string_view hex = body.substr(i + 1, digits);
        if (hex.size() != digits || !std::all_of(hex.begin(), hex.end(), [](char c) {
              return absl::ascii_isxdigit(static_cast<unsigned char>(c));
            })) {
          return absl::InvalidArgumentError(
              absl::StrCat("truncated \\", std::string(1, escape), " escape in a string literal"));
        }
        const uint32_t code_point = std::strtoul(std::string(hex).c_str(), nullptr, 16);
        if (code_point > 0x10FFFF) {
          return absl::InvalidArgumentError("illegal Unicode character in a string literal");
        }
        AppendUtf8(code_point, out);
        i += digits;
        break;
      }
      default:
        if (escape >= '0' && escape <= '7') {
          uint32_t code_point = 0;
          size_t digits = 0;
          while (digits < 3 && i < body.size() && body[i] >= '0' && body[i] <= '7') {
            code_point = code_point * 8 + (body[i] - '0');
            ++i;
            ++digits;
          }
          --i;
          AppendUtf8(code_point, out);
        } else if (escape == 'N') {
          return absl::InvalidArgumentError("\\N{...} escapes are not supported");
        } else {
          out.push_back('\\');
          out.push_back(escape);
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(absl::string_view source) : source_(NormalizeNewlines(source)) {
    for (size_t i = 0; i < source_.size(); ++i) {
      if (source_[i] == '\n') newlines_.push_back(i);
    }
  }

  absl::StatusOr<std::vector<Token>> Run() {
    size_t pos = 0;
    // Whether `pos` starts a line, as far as lstrip_blocks is concerned.
    bool line_starting = true;
    while (pos < source_.size()) {
      const size_t tag = FindTagStart(pos);
      if (tag == std::string::npos) {
        EmitText(pos, source_.substr(pos));
        break;
      }
      const char kind = source_[tag + 1];
      size_t inside = tag + 2;
      const char sign = inside < source_.size() ? source_[inside] : 0;
      if (sign == '-' || sign == '+') ++inside;
      absl::string_view text = absl::string_view(source_).substr(pos, tag - pos);
      if (sign == '-') {
        text = RStripSpace(text);
      } else if (sign != '+' && kind != '{') {
        text = LStripBlock(text, line_starting);
      }
      EmitText(pos, text);
      if (kind == '#') {
        TESSERA_ASSIGN_OR_RETURN(pos, SkipComment(tag, inside));
      } else {
        TESSERA_ASSIGN_OR_RETURN(pos, LexTag(tag, inside, kind == '%'));
      }
      line_starting = source_[pos - 1] == '\n';
    }
    tokens_.push_back({.kind = TokenKind::kEnd, .text = "", .line = LineAt(source_.size())});
    return std::move(tokens_);
  }

 private:
  int LineAt(size_t pos) const {
    return 1 + static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), pos) -
                                newlines_.begin());
  }

  absl::Status Error(size_t pos, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", LineAt(pos), ": ", message));
  }

  bool At(size_t pos, absl::string_view text) const {
    return absl::StartsWith(absl::string_view(source_).substr(pos), text);
  }

  // Bytes of the Python whitespace character at `pos`, or 0.
  size_t SpaceAt(size_t pos) const {
    if (pos >= source_.size()) return 0;
    const CodePointHead head = DecodeHead(absl::string_view(source_).substr(pos));
    return IsPythonSpace(head.code_point) ? head.length : 0;
  }

  size_t SkipSpace(size_t pos) const {
    while (size_t length = SpaceAt(pos)) pos += length;
    return pos;
  }

  static absl::string_view RStripSpace(absl::string_view text) {
    size_t keep = 0;
    for (size_t pos = 0; pos < text.size();) {
      const CodePointHead head = DecodeHead(text.substr(pos));
      pos += head.length;
      if (!IsPythonSpace(head.code_point)) keep = pos;
    }
    return text.substr(0, keep);
  }

  // lstrip_blocks: whitespace between the start of the line and a block or comment tag goes.
  static absl::string_view LStripBlock(absl::string_view text, bool line_starting) {
    const size_t line_start = text.rfind('\n') + 1;  // 0 when there is no line break
    if (line_start == 0 && !line_starting) return text;
    const absl::string_view indent = text.substr(line_start);
    if (indent.empty() || RStripSpace(indent).size() != 0) return text;
    return text.substr(0, line_start);
  }

  size_t FindTagStart(size_t pos) const {
    for (size_t i = source_.find('{', pos); i != std::string::npos; i = source_.find('{', i + 1)) {
      if (i + 1 < source_.size() &&
          (source_[i + 1] == '{' || source_[i + 1] == '%' || source_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  void EmitText(size_t pos, absl::string_view text) {
    if (text.empty()) return;
    tokens_.push_back({.kind = TokenKind::kText, .text = std::string(text), .line = LineAt(pos)});
  }

  void Emit(TokenKind kind, size_t pos, std::string text = "") {
    tokens_.push_back({.kind = kind, .text = std::move(text), .line = LineAt(pos)});
  }

  // A comment ends at the first "#}"; "-#}" strips the whitespace after it, "+#}" keeps it,
  // and a plain "#}" drops one newline (trim_blocks).
  absl::StatusOr<size_t> SkipComment(size_t tag, size_t inside) const {
    const size_t close = source_.find("#}", inside);
    if (close == std::string::npos) return Error(tag, "missing end of comment tag");
    return AfterClose(close, close > inside ? source_[close - 1] : 0);
  }

  // Where text resumes after a block or comment closing delimiter at `close`, given the
  // character before it.
  size_t AfterClose(size_t close, char sign) const {
    const size_t after = close + 2;
    if (sign == '-') return SkipSpace(after);
    if (sign != '+' && after < source_.size() && source_[after] == '\n') return after + 1;
    return after;
  }

  // Lexes the inside of a `{{ }}` or `{% %}` tag; returns where text resumes.
  absl::StatusOr<size_t> LexTag(size_t tag, size_t pos, bool block) {
    if (block) TESSERA_RETURN_IF_ERROR(RejectRawBlock(tag, pos));
    Emit(block ? TokenKind::kBlockBegin : TokenKind::kVariableBegin, tag);
    std::string open_brackets;
    while (true) {
      if (pos >= source_.size()) {
        return Error(tag, block ? "unexpected end of template, expected '%}'"
                                : "unexpected end of template, expected '}}'");
      }
      if (open_brackets.empty()) {
        if (std::optional<size_t> end = MatchTagEnd(pos, block)) {
          Emit(block ? TokenKind::kBlockEnd : TokenKind::kVariableEnd, pos);
          return *end;
        }
      }
      if (size_t space = SpaceAt(pos)) {
        pos += space;
        continue;
      }
      TESSERA_ASSIGN_OR_RETURN(pos, LexToken(pos, open_brackets));
    }
  }

  // The end of the closing delimiter at `pos` and the whitespace it takes with it, if one is
  // there: "-%}" and "-}}" take all whitespace, "%}" one newline, "+%}" and "}}" none.
  std::optional<size_t> MatchTagEnd(size_t pos, bool block) const {
    const absl::string_view close = block ? "%}" : "}}";
    if ((source_[pos] == '-' || source_[pos] == '+') && At(pos + 1, close)) {
      if (source_[pos] == '+' && !block) return std::nullopt;
      return AfterClose(pos + 1, source_[pos]);
    }
    if (!At(pos, close)) return std::nullopt;
    return block ? AfterClose(pos, 0) : pos + 2;
  }

  absl::Status RejectRawBlock(size_t tag, size_t pos) const {
    pos = SkipSpace(pos);
    if (At(pos, "raw") && (pos + 3 >= source_.size() || !IsNameChar(source_[pos + 3]))) {
      return Error(tag, "unsupported tag 'raw'");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> LexToken(size_t pos, std::string& open_brackets) {
    const char c = source_[pos];
    if (IsDigit(c)) return LexNumber(pos);
    if (IsNameStart(c)) {
      size_t end = pos;
      while (end < source_.size() && IsNameChar(source_[end])) ++end;
      Emit(TokenKind::kName, pos, source_.substr(pos, end - pos));
      return end;
    }
    if (c == '\'' || c == '"') return LexString(pos);
    for (absl::string_view op : kOperators) {
      if (!At(pos, op)) continue;
      TESSERA_RETURN_IF_ERROR(Balance(pos, op[0], open_brackets));
      Emit(TokenKind::kOperator, pos, std::string(op));
      return pos + op.size();
    }
    return Error(pos, absl::StrCat("unexpected character '", std::string(1, c), "'"));
  }

  absl::Status Balance(size_t pos, char bracket, std::string& open_brackets) const {
    switch (bracket) {
      case '(': open_brackets.push_back(')'); break;
      case '[': open_brackets.push_back(']'); break;
      case '{': open_brackets.push_back('}'); break;
      case ')':
      case ']':
      case '}':
        if (open_brackets.empty() || open_brackets.back() != bracket) {
          return Error(pos, absl::StrCat("unexpected '", std::string(1, bracket), "'"));
        }
        open_brackets.pop_back();
        break;
      default: break;
    }
    return absl::OkStatus();
  }

  // The end of `\d+(_\d+)*` at `pos`, or npos.
  size_t MatchDigits(size_t pos) const {
    if (pos >= source_.size() || !IsDigit(source_[pos])) return std::string::npos;
    while (pos < source_.size()) {
      if (IsDigit(source_[pos])) {
        ++pos;
      } else if (source_[pos] == '_' && pos + 1 < source_.size() && IsDigit(source_[pos + 1])) {
        ++pos;
      } else {
        break;
      }
    }
    return pos;
  }

  // The end of a float literal at `pos` (digits with a fraction, an exponent or both), or npos.
  size_t MatchFloat(size_t pos) const {
    if (pos > 0 && source_[pos - 1] == '.') return std::string::npos;
    const size_t whole = MatchDigits(pos);
    if (whole == std::string::npos) return std::string::npos;
    size_t fraction = std::string::npos;
    if (whole < source_.size() && source_[whole] == '.') fraction = MatchDigits(whole + 1);
    const size_t mantissa = fraction != std::string::npos ? fraction : whole;
    if (mantissa < source_.size() && (source_[mantissa] == 'e' || source_[mantissa] == 'E')) {
      size_t exponent = mantissa + 1;
      if (exponent < source_.size() && (source_[exponent] == '+' || source_[exponent] == '-')) {
        ++exponent;
      }
      const size_t end = MatchDigits(exponent);
      if (end != std::string::npos) return end;
    }
    return fraction;
  }

  // The end of `prefix(_?digit)+` at `pos` (0b.., 0o.., 0x..), or npos.
  size_t MatchPrefixedInteger(size_t pos, bool (*is_digit)(char)) const {
    size_t end = pos + 2;
    while (true) {
      const size_t digit = end < source_.size() && source_[end] == '_' ? end + 1 : end;
      if (digit >= source_.size() || !is_digit(source_[digit])) break;
      end = digit + 1;
    }
    return end > pos + 2 ? end : std::string::npos;
  }

  // The end and base of an integer literal at `pos`: 0b.., 0o.., 0x.., decimal, or zeros.
  std::pair<size_t, int> MatchInteger(size_t pos) const {
    if (source_[pos] == '0' && pos + 1 < source_.size()) {
      struct Prefix {
        char letter;
        int base;
        bool (*is_digit)(char);
      };
      static constexpr Prefix kPrefixes[] = {
          {'b', 2, [](char c) { return c == '0' || c == '1'; }},
          {'o', 8, [](char c) { return c >= '0' && c <= '7'; }},
          {'x', 16, [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); }},
      };
      const char letter = absl::ascii_tolower(static_cast<unsigned char>(source_[pos + 1]));
      for (const Prefix& prefix : kPrefixes) {
        if (letter != prefix.letter) continue;
        const size_t end = MatchPrefixedInteger(pos, prefix.is_digit);
        if (end != std::string::npos) return {end, prefix.base};
      }
    }
    // A decimal literal, or a run of zeros: no leading zeros before other digits.
    size_t end = pos + 1;
    while (true) {
      const size_t digit = end < source_.size() && source_[end] == '_' ? end + 1 : end;
      if (digit >= source_.size() || !IsDigit(source_[digit])) break;
      if (source_[pos] == '0' && source_[digit] != '0') break;
      end = digit + 1;
    }
    return {end, 10};
  }

  absl::StatusOr<size_t> LexNumber(size_t pos) {
    std::string digits;
    if (const size_t end = MatchFloat(pos); end != std::string::npos) {
      for (size_t i = pos; i < end; ++i) {
        if (source_[i] != '_') digits.push_back(source_[i]);
      }
      tokens_.push_back({.kind = TokenKind::kFloat,
                         .text = "",
                         .number = std::strtod(digits.c_str(), nullptr),
                         .line = LineAt(pos)});
      return end;
    }
    const auto [end, base] = MatchInteger(pos);
    for (size_t i = pos + (base == 10 ? 0 : 2); i < end; ++i) {
      if (source_[i] != '_') digits.push_back(source_[i]);
    }
    errno = 0;
    const int64_t value = std::strtoll(digits.c_str(), nullptr, base);
    if (errno == ERANGE) return Error(pos, "integer literal out of range");
    tokens_.push_back(
        {.kind = TokenKind::kInteger, .text = "", .integer = value, .line = LineAt(pos)});
    return end;
  }

  absl::StatusOr<size_t> LexString(size_t pos) {
    const char quote = source_[pos];
    size_t end = pos + 1;
    while (end < source_.size() && source_[end] != quote) end += source_[end] == '\\' ? 2 : 1;
    if (end >= source_.size()) return Error(pos, "unterminated string literal");
    absl::StatusOr<std::string> value =
        DecodeStringBody(absl::string_view(source_).substr(pos + 1, end - pos - 1));
    if (!value.ok()) return Error(pos, value.status().message());
    Emit(TokenKind::kString, pos, *std::move(value));
    return end + 1;
  }

  const std::string source_;
  std::vector<size_t> newlines_;  // offsets of "\n", for line numbers
  std::vector<Token> tokens_;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view source) {
  return Lexer(source).Run();
}

}  // namespace tessera::jinja
