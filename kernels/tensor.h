// Tensor: a non-owning view of a dense, row-major array on one device. Kernels take tensors for
// weights, whose element type varies by model file; activations are fp32 on the CPU backend and
// are passed as plain pointers with their shapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace tessera {

enum class DType : uint8_t { kF32, kF16, kBF16 };

constexpr size_t DTypeSize(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }
std::string_view DTypeName(DType dtype);

enum class Device : uint8_t { kCpu, kCuda };

inline constexpr int kMaxTensorRank = 4;

struct Tensor {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  Device device = Device::kCpu;
  int rank = 0;
  int64_t shape[kMaxTensorRank] = {};  // shape[rank - 1] is the innermost (contiguous) dimension.

  Tensor() = default;
  Tensor(const void* data, DType dtype, std::initializer_list<int64_t> dims);

  int64_t numel() const;
  size_t bytes() const { return static_cast<size_t>(numel()) * DTypeSize(dtype); }
  // For a matrix view: the innermost dimension is `cols`, everything outside it is `rows`.
  int64_t cols() const { return rank == 0 ? 1 : shape[rank - 1]; }
  int64_t rows() const { return cols() == 0 ? 0 : numel() / cols(); }
  // Rows [first_row, first_row + n_rows) of this tensor seen as a matrix: a [n_rows, cols()]
  // view of the same memory (how a fused q/k/v or gate/up weight is split without a copy).
  Tensor RowRange(int64_t first_row, int64_t n_rows) const;
};

}  // namespace tessera
