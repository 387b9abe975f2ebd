// Code-point views of UTF-8 text: Python strings index, slice and strip by code point, and
// treat the Unicode whitespace characters as whitespace.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace tessera::jinja {

// The code point at the start of non-empty `text` and the bytes it takes; an ill-formed
// sequence reads as U+FFFD.
struct CodePointHead {
  char32_t code_point;
  size_t length;
};
CodePointHead DecodeHead(absl::string_view text);

// The code points of `text`; ill-formed bytes become U+FFFD.
std::u32string DecodeUtf8(absl::string_view text);

std::string EncodeUtf8(std::u32string_view code_points);
void AppendUtf8(char32_t code_point, std::string& out);

// Python's str.isspace(): ASCII whitespace, U+001C..U+001F, U+0085 and the Unicode
// separators (U+00A0, U+2000..U+200A, U+3000, ...).
bool IsPythonSpace(char32_t code_point);

}  // namespace tessera::jinja
