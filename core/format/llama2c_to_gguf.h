// Converts a llama2.c checkpoint and tokenizer into a GGUF "llama" model: the hyperparameters as
// llama.* keys, the vocabulary as tokenizer.ggml.* (SentencePiece model "llama") and every weight
// as an F32 tensor under llama.cpp's names. No weight is permuted: llama2.c rotates adjacent
// pairs of dimensions, the layout a GGUF llama model uses.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/format/gguf_writer.h"
#include "core/format/llama2c.h"

namespace tessera::llama2c {

// The GGUF form of a llama2.c piece: "\n<s>\n" and "\n</s>\n" become "<s>" and "</s>", and each
// space becomes SentencePiece's word marker U+2581.
std::string GgufTokenText(std::string_view piece);

// The GGUF token type (llama.cpp's numbering) of token `id` of a Llama SentencePiece
// vocabulary: 0 is unknown (2), 1 and 2 (BOS, EOS) are control (3), "<0xNN>" are bytes (6), the
// rest are normal (1).
int32_t GgufTokenType(int32_t id, std::string_view gguf_text);

// `vocab` must hold the checkpoint's vocab_size tokens.
absl::StatusOr<gguf::GgufWriter> BuildGguf(const Checkpoint& checkpoint, const Vocabulary& vocab,
                                           std::string_view model_name);

// Reads both files and writes the GGUF model, named after the checkpoint's file name without its
// extension. Errors: those of Checkpoint::Read and ReadVocabulary, and of writing `gguf_path`.
absl::Status ConvertToGguf(const std::string& checkpoint_path, const std::string& tokenizer_path,
                           const std::string& gguf_path);

}  // namespace tessera::llama2c
