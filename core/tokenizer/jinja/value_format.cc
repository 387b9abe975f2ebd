#include "core/tokenizer/jinja/value_format.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/tokenizer/jinja/unicode.h"

namespace tessera::jinja {
namespace {

// Python's str.isprintable() for one code point, closely enough for chat text: control
// characters, separators other than the space, and the common format characters are not.
bool IsPrintable(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if (c != U' ' && IsPythonSpace(c)) return false;
  return !((c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF);
}

std::string StringRepr(const std::string& text) {
  const std::u32string code_points = DecodeUtf8(text);
  const bool has_single = text.find('\'') != std::string::npos;
  const bool has_double = text.find('"') != std::string::npos;
  const char32_t quote = has_single && !has_double ? U'"' : U'\'';
  std::string out(1, static_cast<char>(quote));
  for (char32_t c : code_points) {
    if (c == quote || c == U'\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == U'\n') {
      out += "\\n";
    } else if (c == U'\r') {
      out += "\\r";
    } else if (c == U'\t') {
      out += "\\t";
    } else if (IsPrintable(c)) {
      AppendUtf8(c, out);
    } else if (c <= 0xFF) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint32_t>(c));
    } else if (c <= 0xFFFF) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<uint32_t>(c));
    } else {
      absl::StrAppendFormat(&out, "\\U%08x", static_cast<uint32_t>(c));
    }
  }
  out.push_back(static_cast<char>(quote));
  return out;
}

std::string ItemsRepr(const ValueList& items) {
  return absl::StrJoin(items, ", ",
                       [](std::string* out, const Value& item) { out->append(ToRepr(item)); });
}

std::string EntriesRepr(const ValueDict& entries) {
  return absl::StrJoin(entries, ", ", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, StringRepr(entry.first), ": ", ToRepr(entry.second));
  });
}

}  // namespace

std::string FormatFloat(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  // Shortest round-trip digits, e.g. "-1.2345e+02"; then Python's layout of them.
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  const absl::string_view scientific(buffer, result.ptr - buffer);
  const size_t e = scientific.find('e');
  absl::string_view mantissa = scientific.substr(0, e);
  const int exponent = std::atoi(std::string(scientific.substr(e + 1)).c_str());
  std::string out;
  if (mantissa.front() == '-') {
    out.push_back('-');
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  if (exponent < -4 || exponent >= 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) absl::StrAppend(&out, ".", digits.substr(1));
    absl::StrAppendFormat(&out, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  } else if (exponent < 0) {
    absl::StrAppend(&out, "0.", std::string(-exponent - 1, '0'), digits);
  } else {
    const size_t int_digits = static_cast<size_t>(exponent) + 1;
    if (digits.size() < int_digits) digits.append(int_digits - digits.size(), '0');
    const std::string fraction = digits.substr(int_digits);
    absl::StrAppend(&out, digits.substr(0, int_digits), ".", fraction.empty() ? "0" : fraction);
  }
  return out;
}

std::string ToStr(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return "";
    case Value::Kind::kString: return value.as_string();
    default: return ToRepr(value);
  }
}

std::string ToRepr(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return "Undefined";
    case Value::Kind::kNone: return "None";
    case Value::Kind::kBool: return value.as_bool() ? "True" : "False";
    case Value::Kind::kInt: return absl::StrCat(value.as_int());
    case Value::Kind::kFloat: return FormatFloat(value.as_float());
    case Value::Kind::kString: return StringRepr(value.as_string());
    case Value::Kind::kList: return absl::StrCat("[", ItemsRepr(value.as_list()), "]");
    case Value::Kind::kTuple:
      return absl::StrCat("(", ItemsRepr(value.as_list()),
                          value.as_list().size() == 1 ? ",)" : ")");
    case Value::Kind::kDict: return absl::StrCat("{", EntriesRepr(value.as_dict()), "}");
    case Value::Kind::kNamespace:
      return absl::StrCat("<Namespace {", EntriesRepr(value.namespace_attributes()), "}>");
    case Value::Kind::kFunction: return "<function>";
  }
  return "";
}

}  // namespace tessera::jinja
