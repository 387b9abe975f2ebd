// Errors for a vocabulary that cannot be tokenized with, shared by every tokenizer's validation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/tokenizer.h"

namespace tessera {

// INVALID_ARGUMENT (INVALID_MODEL_FILE): "tokenizer vocabulary: <message>".
absl::Status InvalidVocabulary(absl::string_view message);

// OK when there are tokens (at most INT32_MAX), one type per token, and every type is known.
absl::Status CheckTokenTypes(size_t n_tokens, const std::vector<TokenType>& types);

// OK when `id` is absent or names one of `vocab_size` tokens; `name` says which id it is.
absl::Status CheckTokenId(std::optional<int32_t> id, absl::string_view name, size_t vocab_size);

}  // namespace tessera
