// Reads a Hugging Face tokenizer.json (with tokenizer_config.json beside it for BOS, EOS and
// whether to add BOS) into the vocabulary Tessera's tokenizers are built from:
// - byte-level BPE (a ByteLevel pre-tokenizer, with or without Split regexes before it: GPT-2,
//   Llama 3, Qwen2/2.5/3) becomes a BpeVocabulary;
// - SentencePiece-style BPE (spaces written "▁" by the normalizer or a Metaspace pre-tokenizer,
//   byte fallback: Phi-3, Llama 2) becomes an SpmVocabulary. The file has merge rules instead of
//   scores; a piece scores minus the rank of the first rule that forms it, and pieces no rule
//   forms score below all of them, so merging picks the pieces the rules pick.
//
// Token types follow llama.cpp's conversion: added tokens are control tokens when marked
// special and user-defined otherwise; ids no entry names become unused "[PAD<id>]" tokens.
// Added tokens keep their lstrip and rstrip (special_token_strips). An NFC normalizer (Qwen's,
// alone or in a Sequence) becomes the vocabulary's normalization.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/vocabulary.h"

namespace tessera {

// `tokenizer_config_json` may be empty (no tokenizer_config.json). BOS and EOS come from its
// bos_token and eos_token; add_bos from its add_bos_token, else from a TemplateProcessing
// post-processor that starts with a special token, else (byte-level) from what llama.cpp
// assumes for the pre-tokenizer (true for Llama 3's). Errors: INVALID_ARGUMENT
// (INVALID_MODEL_FILE) for malformed JSON or a missing or inconsistent field; UNIMPLEMENTED
// (UNSUPPORTED_ARCHITECTURE) naming the model, normalizer, pre-tokenizer or option this reader
// does not support (WordPiece, Unigram, ...).
absl::StatusOr<Vocabulary> ParseHfTokenizer(std::string_view tokenizer_json,
                                            std::string_view tokenizer_config_json);

// Reads the file and, when it exists, tokenizer_config.json in the same directory. Errors: those
// of ParseHfTokenizer; NOT_FOUND (MODEL_FILE_NOT_FOUND) when `tokenizer_json_path` is missing.
absl::StatusOr<Vocabulary> ReadHfTokenizer(const std::string& tokenizer_json_path);

// ReadHfTokenizer, then TokenizerFromVocabulary.
absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromHfJson(
    const std::string& tokenizer_json_path);

}  // namespace tessera
