// Unicode normalization of the text a tokenizer encodes, as a Hugging Face tokenizer.json's
// normalizer declares it (Qwen2, Qwen2.5 and Qwen3 declare NFC). It is applied to the text
// between special tokens, before the text is split into pieces; special tokens are matched in
// the text as written, as Hugging Face matches added tokens that are not "normalized".
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera {

enum class Normalization {
  kNone,
  kNfc,  // canonical composition: "e\u0301" becomes "\u00E9"; compatibility characters stay
};

// `text` in the normal form. Bytes that are not well-formed UTF-8 are kept as they are.
std::string Normalize(std::string_view text, Normalization normalization);

// GGUF has no key for the normalizer; Tessera writes its own, which llama.cpp ignores:
// "tokenizer.ggml.normalizer" = "none" or "nfc". A file without it gets the normalization its
// tokenizer.ggml.pre implies (bpe_gguf_pre.h). Tessera's keys for special tokens' lstrip and
// rstrip sit beside it: special_token_strip_keys.h.
inline constexpr std::string_view kGgufNormalizerKey = "tokenizer.ggml.normalizer";

// "none" or "nfc".
std::string_view NormalizationName(Normalization normalization);

// The Normalization NormalizationName gives `name`. Errors: UNIMPLEMENTED
// (UNSUPPORTED_ARCHITECTURE) for any other name.
absl::StatusOr<Normalization> NormalizationNamed(std::string_view name);

}  // namespace tessera
