// Vocabulary: either kind of vocabulary a model file describes, and the tokenizer built from it.
#pragma once

#include <memory>
#include <variant>

#include "absl/status/statusor.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/spm.h"
#include "core/tokenizer/tokenizer.h"

namespace tessera {

using Vocabulary = std::variant<BpeVocabulary, SpmVocabulary>;

// The tokenizer for `vocabulary`, with its control and user-defined tokens as the special tokens
// EncodeWithSpecialTokens recognises. Errors: those of BpeTokenizer::Create and
// SpmTokenizer::Create.
absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromVocabulary(Vocabulary vocabulary);

}  // namespace tessera
