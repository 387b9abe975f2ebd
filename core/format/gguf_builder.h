// GgufBuilder: assembles a GGUF model in memory. Metadata goes through a GgufWriter; tensors are
// either views of memory the caller keeps alive (the mapped safetensors a checkpoint is converted
// from, never copied) or buffers the builder owns (tensors a conversion computed, such as
// permuted q/k rows or rope factor tables). The result is either a GgufFile that uses the tensors
// in place (loading a Hugging Face directory) or a GGUF file on disk (the converter), the same
// model both ways.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/format/gguf.h"
#include "core/format/gguf_writer.h"
#include "kernels/tensor.h"

namespace tessera::gguf {

class GgufBuilder {
 public:
  // Metadata entries are added here directly. Tensors must not be (use AddTensor).
  GgufWriter& metadata() { return metadata_; }

  // A view of `tensor` (CPU, F32/F16/BF16) under `name`; its data must stay valid for the life
  // of the GgufFile Build returns, or until WriteFile returns. The shape is `tensor`'s,
  // row-major. INVALID_ARGUMENT for a repeated name or an invalid shape (as GgufWriter).
  absl::Status AddTensor(std::string_view name, const Tensor& tensor);
  // Takes `data`, which must hold exactly the tensor's bytes, and adds a tensor of it; returns
  // a view of the stored tensor.
  absl::StatusOr<Tensor> AddOwnedTensor(std::string_view name, DType dtype,
                                        std::span<const int64_t> shape, std::string data);

  // The GGUF file these entries make, written to `path` tensor by tensor (never all of it in
  // memory at once). Errors: those of writing the file.
  absl::Status WriteFile(const std::string& path) const;

  // A GgufFile holding the metadata and tensors, whose tensor data points at the views and the
  // owned buffers (no copy). `path` is what the GgufFile reports and names in its errors (the
  // directory the model came from). `keep_alive` is held by the GgufFile for as long as it lives:
  // pass whatever owns the viewed memory. Consumes the builder.
  // Errors: INVALID_ARGUMENT (INVALID_MODEL_FILE) as GgufFile::Open would give for the metadata.
  absl::StatusOr<std::unique_ptr<GgufFile>> Build(std::string path,
                                                  std::shared_ptr<const void> keep_alive) &&;

 private:
  struct TensorEntry {
    std::string name;
    Tensor tensor;
  };

  GgufWriter metadata_;
  std::vector<TensorEntry> tensors_;
  std::deque<std::string> owned_;  // a deque, so stored buffers never move
};

}  // namespace tessera::gguf
