// Elementwise ops between the matmuls: residual add, projection bias, and the SwiGLU gate of the
// feed-forward block (Shazeer 2020). Each output element depends only on the inputs at the same
// index, so every op also works in place.
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/weight_row_reader.h"

namespace tessera::cpu {

void AddBias(float* x, const Tensor& bias, int64_t n_rows) {
  const int64_t dim = bias.cols();
  WeightRowReader bias_reader(bias);
  const float* bias_row = bias_reader.Row(0);  // [dim]
  for (int64_t r = 0; r < n_rows; ++r) {
    float* x_row = x + r * dim;  // [dim]
    for (int64_t c = 0; c < dim; ++c) x_row[c] += bias_row[c];
  }
}

void Add(const float* a, const float* b, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void SwiGlu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float silu = gate[i] / (1.0f + std::exp(-gate[i]));
    out[i] = silu * up[i];
  }
}

}  // namespace tessera::cpu
