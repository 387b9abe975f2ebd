// Prefill attention on the GPU: causal, grouped-query attention of a block of new tokens against a
// KV cache that already holds their keys and values; the same function as kernels/cpu/attention.cc.
// Flash-attention style: each block of threads takes a tile of queries of one head, streams the
// visible K/V tiles through shared memory and keeps a running (online) softmax, so the score
// matrix never reaches device memory. With a sliding window only the tiles inside some query's
// window are read, so a long context costs what the window costs. fp32 arithmetic on the CUDA
// cores; the cache paged (kernels/kv_blocks.h), fp32, bf16 or fp16.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/kv_cache_view.h"
#include "kernels/tensor.h"

namespace tessera::cuda {

using cpu::AttentionShape;

// out[t, h, :] = softmax(scale * q[t, h, :] . k[p, h / group, :]) @ v[p, h / group, :] over the
// cache positions p in [0, first_position + t], or [max(0, first_position + t - sliding_window
// + 1), first_position + t] when a window is set; group = n_heads / n_kv_heads. Position p's key
// and value are row KvRow(block_table, p) of the cache's pools (kernels/kv_blocks.h).
//   q, out: [n_tokens, n_heads, head_dim], q fp32, out in out_dtype: fp32, or the 16-bit type of
//   the projection that takes it (the fp32 result rounded to nearest); cache: one view in device
//   memory, read when the kernel runs, whose pools hold cache_dtype and whose block table covers
//   the first_position + n_tokens positions (its length is not read); all 16-byte aligned device
//   memory.
// Preconditions: 1 <= n_tokens <= 65535 * 64; first_position >= 0; n_kv_heads divides n_heads;
// head_dim a multiple of 4, at most 256; sliding_window >= 0. Returns cudaErrorInvalidValue
// otherwise.
cudaError_t AttentionPrefill(const float* q, const KvCacheView* cache, DType cache_dtype,
                             int64_t n_tokens, int64_t first_position, const AttentionShape& shape,
                             void* out, DType out_dtype, cudaStream_t stream);

}  // namespace tessera::cuda
