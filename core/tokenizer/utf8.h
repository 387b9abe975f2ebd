// UTF-8 scanning shared by the tokenizers (splitting text into characters) and TextStream
// (emitting only whole characters). Well-formedness follows the Unicode Standard, table 3-7.
#pragma once

#include <cstddef>
#include <string_view>

namespace tessera {

// The UTF-8 character at the start of a text.
struct Utf8Head {
  // Bytes it takes: the whole character when well-formed, otherwise the "maximal subpart" of
  // the ill-formed sequence (Unicode 3.9, U+FFFD substitution), at least 1.
  size_t length = 0;
  bool well_formed = false;
  // Ill-formed only because the text ends before the character does: more bytes may complete it.
  bool truncated = false;
};

// `text` must not be empty.
Utf8Head ScanUtf8Head(std::string_view text);

// U+FFFD REPLACEMENT CHARACTER, encoded.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

}  // namespace tessera
