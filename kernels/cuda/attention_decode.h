// Decode attention on the GPU: the one new query token of a sequence against its whole KV cache,
// with grouped-query attention (kernels/cpu/attention.cc with n_tokens = 1). The KV cache has the
// CPU backend's paged layout (kernels/kv_blocks.h) in fp32, bf16 or fp16 (a 16-bit cache halves
// the bytes read); scores and sums are fp32, so with an fp32 cache results match the CPU's to fp32
// rounding.
//
// Long contexts are split over the KV length ("flash-decoding"): one block per (kv head, chunk of
// positions) computes an unnormalized partial result with its own max and sum, and a second pass
// merges the chunks. The chunks grow with the context so that one wave of a few hundred blocks
// covers it: the whole GPU stays busy even for one sequence. One sequence's short context is a
// single chunk (a block per kv head, or, on CUDA cores, per query head where kv heads are few),
// whose block writes the result itself. With a sliding window the chunks cover only the window, so
// a long context costs what the window costs. A 16-bit cache with groups of 4 to 8 query heads and
// head_dim 64 or 128 runs the first pass on tensor cores.
//
// The cache, its block table and its length are read from device memory when the kernels run
// (KvCacheView), so a launch captured in a CUDA graph serves every step: its grid covers the
// longest context it may meet, and the blocks past the current context's chunks return at once.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/kv_cache_view.h"
#include "kernels/tensor.h"

namespace tessera::cuda {

using cpu::AttentionShape;

// Chunks of the first pass are multiples of this many cache positions.
inline constexpr int kKvChunk = 32;

// Most sequences one AttentionDecodeBatch takes (a grid dimension).
inline constexpr int64_t kMaxSequences = 65535;

// Scratch memory AttentionDecode (AttentionDecodeBatch of up to `n_sequences`) needs for contexts
// of up to `max_kv_len` positions (no more than for shape.sliding_window positions when a window is
// set).
size_t AttentionDecodeWorkspaceBytes(const AttentionShape& shape, int64_t max_kv_len,
                                     int64_t n_sequences = 1);

// out[h, :] = softmax(scale * q[h, :] . k[p, h / group, :]) @ v[p, h / group, :] over the cache
// positions p in [0, kv_len), or [max(0, kv_len - sliding_window), kv_len) when a window is set;
// group = n_heads / n_kv_heads; kv_len = cache->length when the kernels run. Position p's key and
// value are row KvRow(cache->block_table, p) of the cache's pools.
//   q, out: [n_heads, head_dim] fp32; cache: one view in device memory, its pools in cache_dtype
//   and its block table of KvBlocksFor(kv_len) blocks; all 16-byte aligned device memory.
// Preconditions: 1 <= kv_len <= max_kv_len; head_dim at most 256, a multiple of 4 (fp32 cache)
// or 8 (16-bit cache);
// n_heads / n_kv_heads an integer of at most 8; sliding_window >= 0; workspace of
// AttentionDecodeWorkspaceBytes(shape, max_kv_len) bytes or more.
cudaError_t AttentionDecode(const float* q, const KvCacheView* cache, DType cache_dtype,
                            int64_t max_kv_len, const AttentionShape& shape, void* workspace,
                            size_t workspace_bytes, float* out, cudaStream_t stream);

// AttentionDecode for `n_sequences` sequences in one launch of each pass, as a batched decode
// step needs: sequence z's query is q[z] and its output out[z] (q, out: [n_sequences, n_heads,
// head_dim]), its cache the view cache[z * cache_stride]; max_kv_len bounds every sequence's
// length. The chunks are sized so that all the sequences' blocks together fill one wave. out is
// stored in out_dtype: fp32, or the 16-bit type of the projection that takes it (the fp32 result
// rounded to nearest).
// Preconditions as AttentionDecode's, and 1 <= n_sequences <= kMaxSequences, cache_stride >= 1;
// workspace of AttentionDecodeWorkspaceBytes(shape, max_kv_len, n_sequences) bytes or more.
cudaError_t AttentionDecodeBatch(const float* q, const KvCacheView* cache, int64_t cache_stride,
                                 int64_t n_sequences, DType cache_dtype, int64_t max_kv_len,
                                 const AttentionShape& shape, void* workspace,
                                 size_t workspace_bytes, void* out, DType out_dtype,
                                 cudaStream_t stream);

}  // namespace tessera::cuda
