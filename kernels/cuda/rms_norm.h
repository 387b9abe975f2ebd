// RMSNorm on the GPU (kernels/cpu/rms_norm.cc's counterpart). Activations are fp32; the weight is
// fp32, fp16 or bf16. The output is fp32, or fp16/bf16 (rounded to nearest even) where it is only
// the operand of tensor-core matrix products over weights of that type, which then need no
// conversion pass of their own. (The residual add before a norm is done by the GEMM or GEMV of
// the block before it, in its epilogue.)
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

}  // namespace tessera::cuda
