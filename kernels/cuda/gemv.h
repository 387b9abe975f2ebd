// Batch-1 matrix-vector product on the GPU: the decode step's projections, where every weight is
// read once per token and the time is the weight bytes over memory bandwidth. Weights are fp16 or
// bf16, the activation vector fp32 (like all GPU activations here), accumulation fp32.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/tensor.h"

namespace tessera::cuda {

// y[r] = sum_c w[r, c] * x[c], matching cpu::Matmul with m = 1.
//   w: [n, k] row-major in `w_dtype` (kF16 or kBF16); x: [k] fp32; y: [n] fp32; device memory.
// Any n and k work; k a multiple of 8 with w 16-byte aligned takes the vectorized path that
// reaches the bandwidth ceiling, other shapes a slower element-wise path.
cudaError_t Gemv(const void* w, DType w_dtype, const float* x, int64_t n, int64_t k, float* y,
                 cudaStream_t stream);

}  // namespace tessera::cuda
