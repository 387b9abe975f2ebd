// RMSNorm on the GPU (kernels/cpu/rms_norm.cc's counterpart), plain and fused with the residual
// add that precedes every norm after the first in a transformer block: fusing saves one full
// pass over the hidden state. Activations are fp32; the weight is fp32, fp16 or bf16. The output
// is fp32, or fp16/bf16 (rounded to nearest even) where it is only the operand of tensor-core
// matrix products over weights of that type, which then need no conversion pass of their own.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/tensor.h"

namespace tessera::cuda {

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight.
//   x: [n_rows, dim] fp32; weight: [dim] in `weight_dtype`; out: [n_rows, dim] in `out_dtype`
//   (fp32 out may alias x).
cudaError_t RmsNorm(const float* x, const void* weight, DType weight_dtype, float eps,
                    int64_t n_rows, int64_t dim, void* out, DType out_dtype, cudaStream_t stream);

// residual += delta, then out = RmsNorm(residual): the updated residual stream is written back.
//   residual, delta: [n_rows, dim] fp32; weight: [dim]; out: [n_rows, dim] in `out_dtype`, not
//   aliasing residual.
cudaError_t AddRmsNorm(float* residual, const float* delta, const void* weight, DType weight_dtype,
                       float eps, int64_t n_rows, int64_t dim, void* out, DType out_dtype,
                       cudaStream_t stream);

}  // namespace tessera::cuda
