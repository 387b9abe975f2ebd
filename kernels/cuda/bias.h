// Bias add on the GPU (kernels/cpu/elementwise.cc's AddBias counterpart): the q/k/v biases of
// Qwen2. fp32 activations; the bias in the weights' dtype.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/tensor.h"

namespace tessera::cuda {

// x[r, :] += bias for every row.   x: [n_rows, dim] fp32; bias: [dim] in `bias_dtype`; device
// memory.
cudaError_t AddBias(float* x, const void* bias, DType bias_dtype, int64_t n_rows, int64_t dim,
                    cudaStream_t stream);

}  // namespace tessera::cuda
