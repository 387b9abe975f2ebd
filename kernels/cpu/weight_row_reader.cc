#include "kernels/cpu/weight_row_reader.h"

#include "kernels/cpu/half.h"

namespace tessera::cpu {

WeightRowReader::WeightRowReader(const Tensor& weight) : weight_(weight) {
  if (weight.dtype != DType::kF32) scratch_.resize(static_cast<size_t>(weight.cols()));
}

const float* WeightRowReader::Row(int64_t row) {
  const int64_t cols = weight_.cols();
  const auto* row_bytes =
      static_cast<const char*>(weight_.data) + row * cols * DTypeSize(weight_.dtype);
  if (weight_.dtype == DType::kF32) return reinterpret_cast<const float*>(row_bytes);
  ToFloat(row_bytes, weight_.dtype, cols, scratch_.data());
  return scratch_.data();
}

}  // namespace tessera::cpu
