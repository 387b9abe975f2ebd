#include "core/tokenizer/tokenizer.h"

namespace tessera {

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool at_text_start) const {
  std::string text;
  for (int32_t id : ids) text += TokenBytes(id);
  if (at_text_start && strips_leading_space_ && text.starts_with(' ')) text.erase(0, 1);
  return text;
}

}  // namespace tessera
