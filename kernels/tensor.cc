#include "kernels/tensor.h"

#include <cassert>

namespace tessera {

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
  }
  return "unknown";
}

Tensor::Tensor(const void* data, DType dtype, std::initializer_list<int64_t> dims)
    : data(data), dtype(dtype), rank(static_cast<int>(dims.size())) {
  assert(dims.size() <= kMaxTensorRank);
  int i = 0;
  for (int64_t d : dims) shape[i++] = d;
}

Tensor Tensor::RowRange(int64_t first_row, int64_t n_rows) const {
  assert(first_row >= 0 && n_rows >= 0 && first_row + n_rows <= rows());
  const size_t row_bytes = static_cast<size_t>(cols()) * DTypeSize(dtype);
  Tensor view(static_cast<const char*>(data) + first_row * row_bytes, dtype, {n_rows, cols()});
  view.device = device;
  return view;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= shape[i];
  return n;
}

}  // namespace tessera
