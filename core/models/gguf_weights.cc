#include "core/models/gguf_weights.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {

absl::StatusOr<std::optional<Tensor>> GgufWeights::GetOptional(
    std::string_view name, std::initializer_list<int64_t> shape) {
  if (file_.FindTensor(name) == nullptr) return std::nullopt;
  TESSERA_ASSIGN_OR_RETURN(Tensor tensor, file_.GetTensor(name));
  const std::vector<int64_t> expected(shape);
  const std::vector<int64_t> actual(tensor.shape, tensor.shape + tensor.rank);
  if (actual != expected) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          file_.path(), ": tensor '", std::string(name), "' has shape [",
                          absl::StrJoin(actual, ", "), "], expected [",
                          absl::StrJoin(expected, ", "), "]")),
                      reason::kInvalidModelFile);
  }
  if (seen_.insert(std::string(name)).second) {
    const int64_t bytes = static_cast<int64_t>(tensor.bytes());
    bytes_ += bytes;
    if (bytes > largest_) {
      largest_ = bytes;
      main_dtype_ = tensor.dtype;
    }
  }
  return tensor;
}

absl::StatusOr<Tensor> GgufWeights::Get(std::string_view name,
                                        std::initializer_list<int64_t> shape) {
  TESSERA_ASSIGN_OR_RETURN(std::optional<Tensor> tensor, GetOptional(name, shape));
  if (!tensor) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          file_.path(), ": required tensor '", std::string(name),
                          "' is missing")),
                      reason::kInvalidModelFile);
  }
  return *tensor;
}

std::string ArchKey(std::string_view architecture, std::string_view key) {
  return absl::StrCat(std::string(architecture), ".", std::string(key));
}

}  // namespace tessera
