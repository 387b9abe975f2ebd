// Tessera's own GGUF keys for the lstrip and rstrip of Hugging Face's added tokens
// (SpecialTokenStrip), which GGUF has no place for; llama.cpp ignores them.
#pragma once

#include <string_view>

namespace tessera {

// int32 arrays of token ids: the tokens that take the whitespace before them (lstrip) and
// after them (rstrip). AddVocabularyToGguf writes both, empty or not, so their presence means
// the strips are known and llama.cpp's rule keyed on general.name does not apply. A file with
// neither (one llama.cpp wrote) gets that rule. Ids outside the vocabulary make the file invalid.
inline constexpr std::string_view kGgufLstripTokenIdsKey = "tokenizer.ggml.lstrip_token_ids";
inline constexpr std::string_view kGgufRstripTokenIdsKey = "tokenizer.ggml.rstrip_token_ids";

}  // namespace tessera
