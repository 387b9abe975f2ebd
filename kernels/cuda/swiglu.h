// SwiGLU activation on the GPU (kernels/cpu/elementwise.cc's counterpart): the gate of the
// Llama-family MLP. Inputs fp32, or the 16-bit type of the gate and up projections' weights where
// a prompt's GEMMs write their rows in it; the output fp32, or fp16/bf16 (rounded to nearest even)
// where it is only the operand of the down projection's tensor-core product over weights of that
// type.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/tensor.h"

namespace tessera::cuda {

// out = silu(gate) * up elementwise over n values, silu(g) = g / (1 + exp(-g)), computed in fp32;
// gate and up in `in_dtype`, out in `out_dtype`. Out may alias either input when the types match.
// All pointers are device memory.
cudaError_t SwiGlu(const void* gate, const void* up, DType in_dtype, int64_t n, void* out,
                   DType out_dtype, cudaStream_t stream);

}  // namespace tessera::cuda
