// A Hugging Face model directory (config.json, model.safetensors or its shards with the index,
// tokenizer.json, tokenizer_config.json, generation_config.json) turned into the GGUF model it
// corresponds to: the family's converter (architectures.h) maps the config and the tensors to
// llama.cpp's names, the tokenizer becomes tokenizer.ggml.* metadata, the chat template
// tokenizer.chat_template, and generation_config.json's end-of-sequence ids
// tokenizer.ggml.eos_token_ids. Loading and converting share this one mapping, so a directory
// loaded in place and the GGUF file converted from it are the same model.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/format/gguf.h"
#include "core/format/gguf_builder.h"

namespace tessera {

// GGUF key for every end-of-sequence id of generation_config.json (an array of int32): Llama 3
// lists several. tokenizer.ggml.eos_token_id keeps the tokenizer's own EOS.
inline constexpr std::string_view kEosTokenIdsKey = "tokenizer.ggml.eos_token_ids";

// Whether `path` is a directory with a config.json, i.e. should be opened with OpenHfDirectory.
bool IsHfDirectory(const std::string& path);

// The model's GGUF form, its tensors used in place from the mapped safetensors files.
// `require_tokenizer`: whether a missing tokenizer.json is an error (a server needs one; the
// converter and weight-only tests do not). Errors: NOT_FOUND (MODEL_FILE_NOT_FOUND) for a missing
// config.json, safetensors or (when required) tokenizer.json; UNIMPLEMENTED
// (UNSUPPORTED_ARCHITECTURE) for an architecture no family converts; INVALID_ARGUMENT
// (INVALID_MODEL_FILE) naming the file and field or tensor for anything malformed.
absl::StatusOr<std::unique_ptr<gguf::GgufFile>> OpenHfDirectory(const std::string& dir,
                                                                bool require_tokenizer);

// Writes the GGUF form to `gguf_path`. The tokenizer is included when the directory has one.
absl::Status ConvertHfDirectoryToGguf(const std::string& dir, const std::string& gguf_path);

}  // namespace tessera
