// RMS normalization (Zhang & Sennrich 2019), the pre-norm of Llama-style blocks: each row is
// divided by its root mean square, then scaled per dimension by a learned weight.
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/weight_row_reader.h"

namespace tessera::cpu {

void RmsNorm(const float* x, const Tensor& weight, float eps, int64_t n_rows, int64_t dim,
             float* out) {
  WeightRowReader weight_reader(weight);
  const float* scale = weight_reader.Row(0);  // [dim]
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* x_row = x + r * dim;  // [dim]
    float* out_row = out + r * dim;    // [dim]
    float sum_of_squares = 0;
    for (int64_t c = 0; c < dim; ++c) sum_of_squares += x_row[c] * x_row[c];
    const float inv_rms = 1.0f / std::sqrt(sum_of_squares / static_cast<float>(dim) + eps);
    // Reads x_row[c] before writing out_row[c]: safe when out aliases x.
    for (int64_t c = 0; c < dim; ++c) out_row[c] = x_row[c] * inv_rms * scale[c];
  }
}

}  // namespace tessera::cpu
