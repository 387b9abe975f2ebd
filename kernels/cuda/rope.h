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

// Where a pass's projections left token t's rows: q at q + t * q_stride, k and v at
// k + t * kv_stride and v + t * kv_stride. Separate products leave them packed (strides
// n_heads * head_dim and n_kv_heads * head_dim); one product of the three stacked matrices leaves
// each token's q, k and v side by side in one row (both strides that row's width).
struct ProjectedRows {
  const float* q;
  const float* k;
  const float* v;
  int64_t q_stride;
  int64_t kv_stride;

  // The rows of tokens [first, ...).
  ProjectedRows From(int64_t first) const {
    return {q + first * q_stride, k + first * kv_stride, v + first * kv_stride, q_stride,
            kv_stride};
  }
};

// Writes every head of each token's q, its first `rotary_dim` dims rotated, to q_out (which may be
// rows.q where q's rows are packed: the rotation is then in place), and writes k rotated the same
// way and v unchanged into token t's cache view at position positions[t]: row
// KvRow(view.block_table, positions[t]) of the view's pools (kernels/kv_blocks.h). Pair i of the
// token at position p turns by angle p * inv_freq[i] and is scaled by `scale` (see cpu::Rope);
// dims past rotary_dim are not rotated; the cache holds cache_dtype (fp32, or k and v rounded to
// bf16 or fp16). Token t's view is cache[token_views[t]], or cache[0] for every token when
// token_views is null (one sequence); several sequences' tokens can so share a launch. All
// pointers are device memory.
//   q_out: [n_tokens, n_heads, head_dim]; q's rows n_heads * head_dim wide, k's and v's
//   n_kv_heads * head_dim; positions, token_views: [n_tokens]; inv_freq: [rotary_dim / 2]; each
//   view's block table covers its tokens' positions.
// Preconditions: rotary_dim even, 0 < rotary_dim <= head_dim; n_heads, n_kv_heads > 0.
cudaError_t RopeAndStoreKv(const ProjectedRows& rows, float* q_out, const int32_t* positions,
                           int64_t n_tokens, int n_heads, int n_kv_heads, int head_dim,
                           int rotary_dim, const float* inv_freq, RopeStyle style, float scale,
                           const KvCacheView* cache, const int32_t* token_views, DType cache_dtype,
                           cudaStream_t stream);

}  // namespace tessera::cuda
