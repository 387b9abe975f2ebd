// Converts a Hugging Face tokenizer.json into a vocabulary-only GGUF file: the tokenizer.ggml.*
// entries llama.cpp writes for the same tokenizer, which TokenizerFromGguf reads back as a
// tokenizer that encodes exactly like the one TokenizerFromVocabulary builds.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "core/format/gguf_writer.h"
#include "core/tokenizer/hf_tokenizer_json.h"

namespace tessera {

// Byte-level BPE becomes tokenizer model "gpt2" (tokens, token types, merges, and the
// tokenizer.ggml.pre name of its split regexes); SentencePiece-style becomes model "llama"
// (tokens, scores, token types, unknown id, add_space_prefix). Both get their BOS and EOS ids,
// add_bos_token, and Tessera's own tokenizer.ggml.normalizer ("none" or "nfc"; normalization.h).
// Added tokens' lstrip and rstrip go in Tessera's own keys (special_token_strip_keys.h), always
// written. Errors: UNIMPLEMENTED (UNSUPPORTED_ARCHITECTURE) for split regexes GGUF has
// no tokenizer.ggml.pre name for; INVALID_ARGUMENT (INVALID_MODEL_FILE) for a merge rule with a
// space inside a token, which "left right" cannot express.
absl::Status AddVocabularyToGguf(const Vocabulary& vocabulary, gguf::GgufWriter& writer);

// Reads `tokenizer_json_path` (and tokenizer_config.json beside it; see ReadHfTokenizer) and
// writes the vocabulary alone to `gguf_path`.
absl::Status ConvertHfTokenizerToGguf(const std::string& tokenizer_json_path,
                                      const std::string& gguf_path);

}  // namespace tessera
