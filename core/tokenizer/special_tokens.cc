// Tokenizer::EncodeWithSpecialTokens: splits text on the vocabulary's special tokens.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace tessera {

void Tokenizer::SetSpecialTokens(std::span<const std::string> texts,
                                 std::span<const TokenType> types) {
  special_tokens_.clear();
  special_token_first_bytes_.reset();
  for (size_t id = 0; id < texts.size() && id < types.size(); ++id) {
    if (texts[id].empty()) continue;
    if (types[id] != TokenType::kControl && types[id] != TokenType::kUserDefined) continue;
    special_tokens_.emplace_back(texts[id], static_cast<int32_t>(id));
    special_token_first_bytes_.set(static_cast<uint8_t>(texts[id][0]));
  }
  // Stable: among equal texts the lowest id stays first.
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
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
    const std::pair<std::string, int32_t>* match = nullptr;
    if (special_token_first_bytes_.test(static_cast<uint8_t>(text[pos]))) {
      for (const auto& special : special_tokens_) {
        if (text.substr(pos).starts_with(special.first)) {
          match = &special;
          break;
        }
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    encode_plain(text.substr(plain_from, pos - plain_from));
    ids.push_back(match->second);
    pos += match->first.size();
    plain_from = pos;
  }
  encode_plain(text.substr(plain_from));
  return ids;
}

}  // namespace tessera
