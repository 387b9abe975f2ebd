// SwiGLU activation on the GPU (kernels/cpu/elementwise.cc's counterpart): the gate of the
// Llama-family MLP. fp32 activations.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace tessera::cuda {

// out = silu(gate) * up elementwise over n values, silu(g) = g / (1 + exp(-g)).
// out may alias either input. All pointers are device memory.
cudaError_t SwiGlu(const float* gate, const float* up, int64_t n, float* out,
                   cudaStream_t stream);

}  // namespace tessera::cuda
