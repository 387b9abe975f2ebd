// Tokenizer::EncodeWithSpecialTokens: splits text on the vocabulary's special tokens.
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace tessera {
namespace {

bool IsWhitespace(UChar32 character) { return character >= 0 && u_isUWhiteSpace(character); }

// Bytes of whitespace at the start of `text`.
size_t LeadingWhitespace(std::string_view text) {
  const auto length = static_cast<int32_t>(text.size());
  int32_t end = 0;
  while (end < length) {
    int32_t next = end;
    UChar32 character;
    U8_NEXT(text.data(), next, length, character);  // negative when ill-formed
    if (!IsWhitespace(character)) break;
    end = next;
  }
  return end;
}

// Bytes of whitespace at the end of `text`.
size_t TrailingWhitespace(std::string_view text) {
  const auto length = static_cast<int32_t>(text.size());
  int32_t begin = length;
  while (begin > 0) {
    int32_t previous = begin;
    UChar32 character;
    U8_PREV(text.data(), 0, previous, character);
    if (!IsWhitespace(character)) break;
    begin = previous;
  }
  return length - begin;
}

}  // namespace

void Tokenizer::SetSpecialTokens(std::span<const std::string> texts,
                                 std::span<const TokenType> types,
                                 std::span<const SpecialTokenStrip> strips) {
  special_tokens_.clear();
  special_token_first_bytes_.reset();
  for (size_t id = 0; id < texts.size() && id < types.size(); ++id) {
    if (texts[id].empty()) continue;
    if (types[id] != TokenType::kControl && types[id] != TokenType::kUserDefined) continue;
    const SpecialTokenStrip strip = id < strips.size() ? strips[id] : SpecialTokenStrip{};
    special_tokens_.push_back({texts[id], static_cast<int32_t>(id), strip});
    special_token_first_bytes_.set(static_cast<uint8_t>(texts[id][0]));
  }
  // Stable: among equal texts the lowest id stays first.
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(),
                   [](const auto& a, const auto& b) { return a.text.size() > b.text.size(); });
}

std::vector<int32_t> Tokenizer::EncodeWithSpecialTokens(std::string_view text) const {
  std::vector<int32_t> ids;
  auto encode_plain = [&](std::string_view plain) {
    if (plain.empty()) return;
    const std::vector<int32_t> plain_ids = Encode(plain);
    ids.insert(ids.end(), plain_ids.begin(), plain_ids.end());
  };
  size_t plain_from = 0;
  for (size_t pos = 0; pos < text.size();) {
    const SpecialToken* match = nullptr;
    if (special_token_first_bytes_.test(static_cast<uint8_t>(text[pos]))) {
      for (const SpecialToken& special : special_tokens_) {
        if (text.substr(pos).starts_with(special.text)) {
          match = &special;
          break;
        }
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    std::string_view plain = text.substr(plain_from, pos - plain_from);
    if (match->strip.left) plain.remove_suffix(TrailingWhitespace(plain));
    encode_plain(plain);
    ids.push_back(match->id);
    pos += match->text.size();
    if (match->strip.right) pos += LeadingWhitespace(text.substr(pos));
    plain_from = pos;
  }
  encode_plain(text.substr(plain_from));
  return ids;
}

}  // namespace tessera
