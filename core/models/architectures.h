// One builder per model family. BuildModelFromGguf (architectures.cc) picks one by the file's
// general.architecture; adding a family is one file plus one row there.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "core/format/gguf.h"
#include "core/models/model.h"

namespace tessera {

absl::StatusOr<std::unique_ptr<Model>> BuildLlama(const gguf::GgufFile& file);

}  // namespace tessera
