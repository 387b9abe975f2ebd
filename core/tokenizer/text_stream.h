// TextStream: turns a stream of token byte pieces into text that is always whole UTF-8
// characters, holding back the bytes of a character split across tokens until it completes.
#pragma once

#include <string>
#include <string_view>

namespace tessera {

class TextStream {
 public:
  // `strip_leading_space`: drop one space at the very start of the text (the space a
  // SentencePiece-style tokenizer puts in front of a text; see Tokenizer::Decode).
  explicit TextStream(bool strip_leading_space) : strip_leading_space_(strip_leading_space) {}

  // Appends `bytes` and returns the text that became complete.
  std::string Push(std::string_view bytes);

  // Returns whatever is held back, completing nothing: an invalid or truncated sequence is
  // replaced by U+FFFD so the result is valid UTF-8.
  std::string Flush();

 private:
  bool strip_leading_space_;
  bool at_start_ = true;
  std::string pending_;  // bytes of an incomplete character
};

// `bytes` as valid UTF-8: invalid and truncated sequences become U+FFFD, as TextStream does.
std::string ToValidUtf8(std::string_view bytes);

}  // namespace tessera
