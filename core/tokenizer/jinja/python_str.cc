#include "core/tokenizer/jinja/python_str.h"

#include <locale.h>
#include <wctype.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/jinja/unicode.h"

namespace tessera::jinja {
namespace {

// Case mapping follows the C.UTF-8 locale's tables, independent of the process locale.
locale_t Utf8Locale() {
  static const locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr);
  return locale;
}

char32_t ToLower(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  const locale_t locale = Utf8Locale();
  return locale ? static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), locale)) : c;
}

char32_t ToUpper(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
  const locale_t locale = Utf8Locale();
  return locale ? static_cast<char32_t>(towupper_l(static_cast<wint_t>(c), locale)) : c;
}

// A letter that has case: one that lower- or upper-casing changes.
bool IsCased(char32_t c) { return ToLower(c) != c || ToUpper(c) != c; }

template <typename MapFn>
std::string MapCodePoints(absl::string_view text, MapFn map) {
  std::u32string code_points = DecodeUtf8(text);
  for (size_t i = 0; i < code_points.size(); ++i) code_points[i] = map(i, code_points);
  return EncodeUtf8(code_points);
}

}  // namespace

std::string Strip(absl::string_view text, std::optional<absl::string_view> chars, StripSide side) {
  const std::u32string code_points = DecodeUtf8(text);
  const std::u32string strip_set = chars ? DecodeUtf8(*chars) : std::u32string();
  const auto strips = [&](char32_t c) {
    return chars ? strip_set.find(c) != std::u32string::npos : IsPythonSpace(c);
  };
  size_t begin = 0;
  size_t end = code_points.size();
  if (side != StripSide::kRight) {
    while (begin < end && strips(code_points[begin])) ++begin;
  }
  if (side != StripSide::kLeft) {
    while (end > begin && strips(code_points[end - 1])) --end;
  }
  return EncodeUtf8(std::u32string_view(code_points).substr(begin, end - begin));
}

absl::StatusOr<std::vector<std::string>> Split(absl::string_view text,
                                               std::optional<absl::string_view> separator,
                                               int64_t max_splits) {
  std::vector<std::string> pieces;
  if (separator) {
    if (separator->empty()) return absl::InvalidArgumentError("split(): empty separator");
    size_t start = 0;
    while (max_splits < 0 || static_cast<int64_t>(pieces.size()) < max_splits) {
      const size_t found = text.find(*separator, start);
      if (found == absl::string_view::npos) break;
      pieces.emplace_back(text.substr(start, found - start));
      start = found + separator->size();
    }
    pieces.emplace_back(text.substr(start));
    return pieces;
  }
  const std::u32string code_points = DecodeUtf8(text);
  size_t i = 0;
  while (true) {
    while (i < code_points.size() && IsPythonSpace(code_points[i])) ++i;
    if (i == code_points.size()) break;
    if (max_splits >= 0 && static_cast<int64_t>(pieces.size()) == max_splits) {
      // The rest, trailing whitespace and all, is the last piece.
      pieces.push_back(EncodeUtf8(std::u32string_view(code_points).substr(i)));
      break;
    }
    const size_t start = i;
    while (i < code_points.size() && !IsPythonSpace(code_points[i])) ++i;
    pieces.push_back(EncodeUtf8(std::u32string_view(code_points).substr(start, i - start)));
  }
  return pieces;
}

std::string Replace(absl::string_view text, absl::string_view old_text, absl::string_view new_text,
                    int64_t count) {
  std::string out;
  int64_t replaced = 0;
  const auto may_replace = [&] { return count < 0 || replaced < count; };
  if (old_text.empty()) {
    // Python inserts `new_text` before every code point and at the end.
    const std::u32string code_points = DecodeUtf8(text);
    for (char32_t c : code_points) {
      if (may_replace()) {
        absl::StrAppend(&out, new_text);
        ++replaced;
      }
      AppendUtf8(c, out);
    }
    if (may_replace()) absl::StrAppend(&out, new_text);
    return out;
  }
  size_t start = 0;
  while (may_replace()) {
    const size_t found = text.find(old_text, start);
    if (found == absl::string_view::npos) break;
    absl::StrAppend(&out, text.substr(start, found - start), new_text);
    start = found + old_text.size();
    ++replaced;
  }
  absl::StrAppend(&out, text.substr(start));
  return out;
}

std::string Lower(absl::string_view text) {
  return MapCodePoints(text, [](size_t i, const std::u32string& s) { return ToLower(s[i]); });
}

std::string Upper(absl::string_view text) {
  return MapCodePoints(text, [](size_t i, const std::u32string& s) { return ToUpper(s[i]); });
}

std::string Title(absl::string_view text) {
  // A cased letter after another cased letter is lowered, any other one raised.
  bool previous_cased = false;
  return MapCodePoints(text, [&](size_t i, const std::u32string& s) {
    const char32_t c = s[i];
    const bool cased = IsCased(c);
    const char32_t mapped = !cased ? c : previous_cased ? ToLower(c) : ToUpper(c);
    previous_cased = cased;
    return mapped;
  });
}

std::string Capitalize(absl::string_view text) {
  return MapCodePoints(text, [](size_t i, const std::u32string& s) {
    return i == 0 ? ToUpper(s[i]) : ToLower(s[i]);
  });
}

}  // namespace tessera::jinja
