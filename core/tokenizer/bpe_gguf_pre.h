// What GGUF's tokenizer.ggml.pre names for a byte-level BPE vocabulary ("gpt2" model): the split
// regexes, and the settings llama.cpp ties to the name rather than storing in the file.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/normalization.h"

namespace tessera {

struct BpeGgufPre {
  std::vector<std::string> split_regexes;
  // A pre-tokenized piece that is a whole token is not merged (BpeVocabulary::ignore_merges).
  bool ignore_merges = false;
  // Whether BOS is added when tokenizer.ggml.add_bos_token is absent.
  bool add_bos_by_default = false;
  // The normalization when tokenizer.ggml.normalizer is absent (normalization.h): the one the
  // tokenizer.json files behind the name declare, which llama.cpp's converter does not write.
  Normalization normalization = Normalization::kNone;
};

// "llama-bpe" and "llama3" (Llama 3), "qwen2" (Qwen2, Qwen2.5, Qwen3: NFC), "gpt2" and
// "default" (GPT-2). Errors: UNIMPLEMENTED (UNSUPPORTED_ARCHITECTURE) naming any other.
absl::StatusOr<BpeGgufPre> BpeGgufPreNamed(std::string_view pre);

// The tokenizer.ggml.pre name that stands for exactly these split regexes and ignore_merges
// ("llama-bpe", "qwen2" or "gpt2"). Errors: UNIMPLEMENTED (UNSUPPORTED_ARCHITECTURE) when there
// is none, so that a converted vocabulary could not tokenize differently from its source.
absl::StatusOr<std::string> BpeGgufPreName(std::span<const std::string> split_regexes,
                                           bool ignore_merges);

}  // namespace tessera
