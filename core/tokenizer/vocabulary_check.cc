#include "core/tokenizer/vocabulary_check.h"

#include <climits>

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"

namespace tessera {

absl::Status InvalidVocabulary(absl::string_view message) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat("tokenizer vocabulary: ", message)),
                    reason::kInvalidModelFile);
}

absl::Status CheckTokenTypes(size_t n_tokens, const std::vector<TokenType>& types) {
  if (n_tokens == 0) return InvalidVocabulary("no tokens");
  if (n_tokens > static_cast<size_t>(INT32_MAX)) return InvalidVocabulary("too many tokens");
  if (types.size() != n_tokens) {
    return InvalidVocabulary(absl::StrCat(n_tokens, " tokens but ", types.size(), " types"));
  }
  for (size_t id = 0; id < n_tokens; ++id) {
    const auto type = static_cast<int32_t>(types[id]);
    if (type < static_cast<int32_t>(TokenType::kUndefined) ||
        type > static_cast<int32_t>(TokenType::kByte)) {
      return InvalidVocabulary(absl::StrCat("token ", id, " has unknown type ", type));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTokenId(std::optional<int32_t> id, absl::string_view name, size_t vocab_size) {
  if (id.has_value() && (*id < 0 || static_cast<size_t>(*id) >= vocab_size)) {
    return InvalidVocabulary(
        absl::StrCat(name, " ", *id, " is out of range for ", vocab_size, " tokens"));
  }
  return absl::OkStatus();
}

}  // namespace tessera
