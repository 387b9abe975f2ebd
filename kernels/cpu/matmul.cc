// y = x @ w^T, the projection behind every Linear layer. Weights keep the layout model files use
// ([out_features, in_features]), so each output column is a dot product of an input row with one
// contiguous weight row. Threads split the weight rows: each row is read from memory once,
// widened to fp32 once, and used against all m input rows, which is what bounds decode speed.
#include "kernels/cpu/dot.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/weight_row_reader.h"

namespace tessera::cpu {

void Matmul(const float* x, const Tensor& w, int64_t m, float* y) {
  const int64_t n = w.rows();
  const int64_t k = w.cols();
#pragma omp parallel num_threads(ThreadCount())
  {
    WeightRowReader w_reader(w);
#pragma omp for schedule(static)
    for (int64_t col = 0; col < n; ++col) {
      const float* w_row = w_reader.Row(col);  // [k]
      for (int64_t row = 0; row < m; ++row) y[row * n + col] = Dot(x + row * k, w_row, k);
    }
  }
}

}  // namespace tessera::cpu
