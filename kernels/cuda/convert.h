// fp32 activations to fp16/bf16 on the GPU: the operand format the tensor-core GEMM (matmul.h)
// takes, since cuBLAS needs both matrix operands in one type.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/tensor.h"

namespace tessera::cuda {

// out[i] = x[i] rounded to nearest even in `dtype` (kF16 or kBF16).   x: [n] fp32; out: [n].
cudaError_t ConvertFromFloat(const float* x, int64_t n, DType dtype, void* out,
                             cudaStream_t stream);

}  // namespace tessera::cuda
