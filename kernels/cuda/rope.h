// Rotary position embedding on the GPU (kernels/cpu/rope.cc's counterpart), for both pairings of
// a head's dimensions. Activations are fp32 and rotated in place.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cpu/ops.h"

namespace tessera::cuda {

using cpu::RopeStyle;

// Rotates the first `rotary_dim` dims of every head in place; pair i of the token at position p
// turns by angle p * inv_freq[i] and is scaled by `scale` (see cpu::Rope). Dims past rotary_dim
// are untouched. All pointers are device
// memory.   x: [n_tokens, n_heads, head_dim]; positions: [n_tokens]; inv_freq: [rotary_dim / 2]
// Preconditions: rotary_dim even, 0 < rotary_dim <= head_dim.
cudaError_t Rope(float* x, const int32_t* positions, int64_t n_tokens, int n_heads, int head_dim,
                 int rotary_dim, const float* inv_freq, RopeStyle style, float scale,
                 cudaStream_t stream);

}  // namespace tessera::cuda
