#include "core/format/gguf_builder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/format/gguf_types.h"
#include "core/util/status_macros.h"

namespace tessera::gguf {
namespace {

// What a built GgufFile keeps alive: the caller's memory behind the views, and the buffers the
// builder owned.
struct BuiltTensorMemory {
  std::shared_ptr<const void> views;
  std::deque<std::string> owned;
};

absl::Status InvalidTensor(std::string_view name, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrFormat("GGUF tensor '%s': %s", name, what));
}

bool IsKnownDType(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

// Only for a tensor whose rank is 1..kMaxTensorRank.
std::span<const int64_t> ShapeOf(const Tensor& tensor) {
  return {tensor.shape, static_cast<size_t>(tensor.rank)};
}

std::string_view BytesOf(const Tensor& tensor) {
  return {static_cast<const char*>(tensor.data), tensor.bytes()};
}

}  // namespace

absl::Status GgufBuilder::AddTensor(std::string_view name, const Tensor& tensor) {
  for (const TensorEntry& entry : tensors_) {
    if (entry.name == name) return InvalidTensor(name, "added twice");
  }
  if (tensor.rank < 1 || tensor.rank > kMaxTensorRank) {
    return InvalidTensor(name,
                         absl::StrFormat("rank %d is outside 1..%d", tensor.rank, kMaxTensorRank));
  }
  if (!IsKnownDType(tensor.dtype)) {
    return InvalidTensor(name,
                         absl::StrFormat("unknown dtype %d", static_cast<int>(tensor.dtype)));
  }
  if (tensor.device != Device::kCpu) return InvalidTensor(name, "not in CPU memory");
  if (tensor.data == nullptr) return InvalidTensor(name, "no data");
  TESSERA_RETURN_IF_ERROR(
      CheckedTensorBytes(name, GgmlTypeOf(tensor.dtype), ShapeOf(tensor)).status());
  tensors_.push_back(TensorEntry{std::string(name), tensor});
  return absl::OkStatus();
}

absl::StatusOr<Tensor> GgufBuilder::AddOwnedTensor(std::string_view name, DType dtype,
                                                   std::span<const int64_t> shape,
                                                   std::string data) {
  TESSERA_ASSIGN_OR_RETURN(const size_t bytes,
                           CheckedTensorBytes(name, GgmlTypeOf(dtype), shape));
  if (data.size() != bytes) {
    return InvalidTensor(
        name, absl::StrFormat("%d bytes of data given, the shape needs %d", data.size(), bytes));
  }
  owned_.push_back(std::move(data));
  Tensor tensor;
  tensor.data = owned_.back().data();
  tensor.dtype = dtype;
  tensor.rank = static_cast<int>(shape.size());
  std::copy(shape.begin(), shape.end(), tensor.shape);
  if (absl::Status added = AddTensor(name, tensor); !added.ok()) {
    owned_.pop_back();  // nothing refers to it
    return added;
  }
  return tensor;
}

absl::Status GgufBuilder::WriteFile(const std::string& path) const {
  GgufWriter writer = metadata_;
  for (const TensorEntry& entry : tensors_) {
    TESSERA_RETURN_IF_ERROR(writer.AddTensorView(entry.name, GgmlTypeOf(entry.tensor.dtype),
                                                 ShapeOf(entry.tensor), BytesOf(entry.tensor)));
  }
  return writer.WriteFile(path);
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufBuilder::Build(
    std::string path, std::shared_ptr<const void> keep_alive) && {
  std::vector<TensorInfo> infos;
  infos.reserve(tensors_.size());
  for (TensorEntry& entry : tensors_) {
    const std::span<const int64_t> shape = ShapeOf(entry.tensor);
    TensorInfo info;
    info.name = std::move(entry.name);
    info.type = GgmlTypeOf(entry.tensor.dtype);
    info.dims.assign(shape.rbegin(), shape.rend());  // the file lists the innermost first
    info.bytes = entry.tensor.bytes();
    info.data = entry.tensor.data;
    infos.push_back(std::move(info));
  }
  // Moving the deque leaves its buffers, which the infos point at, where they are.
  auto memory = std::make_shared<const BuiltTensorMemory>(
      BuiltTensorMemory{std::move(keep_alive), std::move(owned_)});
  return GgufFile::FromParts(std::move(path), metadata_.Serialize(), std::move(infos),
                             std::move(memory));
}

}  // namespace tessera::gguf
