// One builder per model family, and one converter per family from a Hugging Face checkpoint to
// the GGUF form the builder reads. BuildModelFromGguf (architectures.cc) picks a builder by the
// file's general.architecture, ConvertHfCheckpoint a converter by config.json's architectures;
// adding a family is one file plus a row in each table there.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "core/format/gguf.h"
#include "core/format/gguf_builder.h"
#include "core/models/model.h"
#include "core/models/transformer_hf.h"

namespace tessera {

absl::StatusOr<std::unique_ptr<Model>> BuildLlama(const gguf::GgufFile& file);
absl::StatusOr<std::unique_ptr<Model>> BuildQwen2(const gguf::GgufFile& file);
absl::StatusOr<std::unique_ptr<Model>> BuildQwen3(const gguf::GgufFile& file);
absl::StatusOr<std::unique_ptr<Model>> BuildPhi3(const gguf::GgufFile& file);

absl::Status ConvertLlamaCheckpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out);
absl::Status ConvertQwen2Checkpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out);
absl::Status ConvertQwen3Checkpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out);
absl::Status ConvertPhi3Checkpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out);

// Converts with the family that config.json's first "architectures" entry names.
// UNIMPLEMENTED (UNSUPPORTED_ARCHITECTURE) naming it and the supported ones otherwise.
absl::Status ConvertHfCheckpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out);

}  // namespace tessera
