// SwiGLU activation on the GPU (kernels/cpu/elementwise.cc's counterpart): the gate of the
// Llama-family MLP. fp32 inputs; the output fp32, or fp16/bf16 (rounded to nearest even) where it
// is only the operand of the down projection's tensor-core product over weights of that type.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/tensor.h"

namespace tessera::cuda {

// out = silu(gate) * up elementwise over n values, silu(g) = g / (1 + exp(-g)), out in
// `out_dtype`. fp32 out may alias either input. All pointers are device memory.
cudaError_t SwiGlu(const float* gate, const float* up, int64_t n, void* out, DType out_dtype,
                   cudaStream_t stream);

}  // namespace tessera::cuda
