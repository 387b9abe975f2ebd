// RMSNorm on the GPU (kernels/cpu/rms_norm.cc's counterpart), plain and fused with the residual
// add that precedes every norm after the first in a transformer block: fusing saves one full
// pass over the hidden state. Activations are fp32; the weight is fp32, fp16 or bf16.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/tensor.h"

namespace tessera::cuda {

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight.
//   x, out: [n_rows, dim] fp32 (out may alias x); weight: [dim] in `weight_dtype`.
cudaError_t RmsNorm(const float* x, const void* weight, DType weight_dtype, float eps,
                    int64_t n_rows, int64_t dim, float* out, cudaStream_t stream);

// residual += delta, then out = RmsNorm(residual): the updated residual stream is written back.
//   residual, delta, out: [n_rows, dim] fp32 (out must not alias residual); weight: [dim].
cudaError_t AddRmsNorm(float* residual, const float* delta, const void* weight,
                       DType weight_dtype, float eps, int64_t n_rows, int64_t dim, float* out,
                       cudaStream_t stream);

}  // namespace tessera::cuda
