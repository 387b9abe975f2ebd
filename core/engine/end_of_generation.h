// The token ids that end a generation (FinishReason::kEndOfSequence): a model may have several,
// such as Llama 3's <|end_of_text|>, <|eot_id|> and <|eom_id|>.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/format/gguf.h"

namespace tessera {

// The distinct ids, ascending, of the file's tokenizer.ggml.eos_token_id, the end-of-sequence
// list of generation_config.json (kEosTokenIdsKey of hf_directory.h), and llama.cpp's
// tokenizer.ggml.eot_token_id and tokenizer.ggml.eom_token_id; each key may be absent. Errors:
// INVALID_ARGUMENT (INVALID_MODEL_FILE) naming the key for a value of the wrong type or an id
// outside [0, vocab_size).
absl::StatusOr<std::vector<int32_t>> EndOfGenerationIds(const gguf::GgufFile& file,
                                                        int32_t vocab_size);

}  // namespace tessera
