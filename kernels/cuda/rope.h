// Rotary position embedding on the GPU (kernels/cpu/rope.cc's counterpart), fused with the store
// of the new keys and values into the KV cache: the step's keys are rotated on their way into the
// cache, so neither they nor the values make a separate pass. Activations are fp32.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/kv_cache_view.h"
#include "kernels/tensor.h"

namespace tessera::cuda {

using cpu::RopeStyle;

// Rotates the first `rotary_dim` dims of every head of q in place, and writes k rotated the same
// way and v unchanged into token t's cache view at position positions[t]: row
// KvRow(view.block_table, positions[t]) of the view's pools (kernels/kv_blocks.h). Pair i of the
// token at position p turns by angle p * inv_freq[i] and is scaled by `scale` (see cpu::Rope);
// dims past rotary_dim are not rotated; the cache holds cache_dtype (fp32, or k and v rounded to
// bf16 or fp16). Token t's view is cache[token_views[t]], or cache[0] for every token when
// token_views is null (one sequence); several sequences' tokens can so share a launch. All
// pointers are device memory.
//   q: [n_tokens, n_heads, head_dim]; k, v: [n_tokens, n_kv_heads, head_dim];
//   positions, token_views: [n_tokens]; inv_freq: [rotary_dim / 2]; each view's block table
//   covers its tokens' positions.
// Preconditions: rotary_dim even, 0 < rotary_dim <= head_dim; n_heads, n_kv_heads > 0.
cudaError_t RopeAndStoreKv(float* q, const float* k, const float* v, const int32_t* positions,
                           int64_t n_tokens, int n_heads, int n_kv_heads, int head_dim,
                           int rotary_dim, const float* inv_freq, RopeStyle style, float scale,
                           const KvCacheView* cache, const int32_t* token_views, DType cache_dtype,
                           cudaStream_t stream);

}  // namespace tessera::cuda
