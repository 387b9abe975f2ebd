// Token embedding lookup: copies one table row per token id, widened to fp32.
#include "kernels/cpu/half.h"
#include "kernels/cpu/ops.h"

namespace tessera::cpu {

void EmbeddingGather(const Tensor& table, const int32_t* ids, int64_t n_ids, float* out) {
  const int64_t dim = table.cols();
  const size_t row_bytes = static_cast<size_t>(dim) * DTypeSize(table.dtype);
  const auto* table_bytes = static_cast<const char*>(table.data);
  for (int64_t i = 0; i < n_ids; ++i) {
    ToFloat(table_bytes + ids[i] * row_bytes, table.dtype, dim, out + i * dim);
  }
}

}  // namespace tessera::cpu
