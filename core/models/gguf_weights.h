// GgufWeights: hands a model family its tensors from a GGUF file by name, checking each one's
// shape where the family declares it, and keeps the totals ModelInfo reports.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "core/format/gguf.h"
#include "kernels/tensor.h"

namespace tessera {

class GgufWeights {
 public:
  explicit GgufWeights(const gguf::GgufFile& file) : file_(file) {}

  const gguf::GgufFile& file() const { return file_; }

  // Tensor `name` with row-major `shape`. INVALID_ARGUMENT (INVALID_MODEL_FILE) when absent or
  // shaped otherwise; UNIMPLEMENTED (UNSUPPORTED_TENSOR_TYPE) for a type we cannot compute in.
  absl::StatusOr<Tensor> Get(std::string_view name, std::initializer_list<int64_t> shape);
  // As Get, but absence is not an error.
  absl::StatusOr<std::optional<Tensor>> GetOptional(std::string_view name,
                                                    std::initializer_list<int64_t> shape);

  // Bytes of the distinct tensors handed out so far, and the dtype of the largest of them.
  int64_t bytes() const { return bytes_; }
  DType main_dtype() const { return main_dtype_; }

 private:
  const gguf::GgufFile& file_;
  absl::flat_hash_set<std::string> seen_;
  int64_t bytes_ = 0;
  int64_t largest_ = 0;
  DType main_dtype_ = DType::kF32;
};

// Hyperparameter `<architecture>.<key>` of a GGUF file, e.g. "llama.block_count".
std::string ArchKey(std::string_view architecture, std::string_view key);

}  // namespace tessera
