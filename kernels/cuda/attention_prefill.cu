// One block of 256 threads per (tile of 64 queries, query head). The threads form a 16 x 16 grid:
// thread (ty, tx) owns query rows 4 ty .. 4 ty + 3 of the tile, and in each 64-key tile the score
// columns tx + 16 j; in the output it owns the float4 columns tx + 16 j of the head. Per key tile:
//   load K and V rows into shared memory, each from the pool row the block table gives its
//   position (the query tile stays there for the whole block);
//   scores: a 4 x 4 register tile per thread from float4 reads of Q and K rows (K rows padded by
//   one float4, so the 8 threads of a shared-memory phase hit distinct banks);
//   online softmax: the row max across the 16 threads of a row by shuffles, the running output
//   and sum rescaled by exp2(old max - new max); probabilities to shared memory;
//   values: out rows += probabilities @ V tile.
// Scores are kept in log2 units (scale * log2(e) folded into the scale) so that exp is one exp2.
// Query tiles are issued longest first across all heads (a tile's heads are neighbours in the
// grid): under the causal mask the last tile reads the most keys, and the last wave should hold
// the short ones.
// With a sliding window a tile's key tiles start at the first position its first query sees, so
// it reads at most window + kQueryTile - 1 keys however long the context; keys that one of its
// queries does not see are masked like the future ones.
#include "kernels/cuda/attention_prefill.h"

#include <cmath>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"

namespace tessera::cuda {
namespace {

constexpr int kQueryTile = 64;
constexpr int kKeyTile = 64;
constexpr int kThreads = 256;  // 16 x 16
constexpr int kRowsPerThread = kQueryTile / 16;
constexpr int kKeysPerThread = kKeyTile / 16;
constexpr int kMaxHeadDim = 256;
constexpr float kLog2E = 1.4426950408889634f;
// Every query of a tile then sees a key in the tile's first key tile, so its running max is
// finite from there on.
static_assert(kQueryTile <= kKeyTile);

__device__ __forceinline__ float Dot4(float4 a, float4 b) {
  return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}

__device__ __forceinline__ float Component(float4 v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

__device__ __forceinline__ void AddScaled(float4& acc, float weight, float4 v) {
  acc.x += weight * v.x;
  acc.y += weight * v.y;
  acc.z += weight * v.z;
  acc.w += weight * v.w;
}

// Max over the 16 threads that share a query row (one half of a warp).
__device__ __forceinline__ float RowMax(float value) {
#pragma unroll
  for (int offset = 8; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  }
  return value;
}

__device__ __forceinline__ float RowSum(float value) {
#pragma unroll
  for (int offset = 8; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  }
  return value;
}

// The first cache position a query at `position` sees.
__device__ __forceinline__ int64_t FirstVisible(int64_t position, int64_t sliding_window) {
  return sliding_window > 0 && position >= sliding_window ? position - sliding_window + 1 : 0;
}

// Copies rows [0, n_valid) of a head's [rows, head_dim] slice into shared memory with row stride
// `tile_stride`; rows [n_valid, n_rows) become zeros, so that padded keys add nothing.
template <typename T>
__device__ __forceinline__ void LoadRows(const T* src, int64_t src_stride, int n_valid, int n_rows,
                                         int head_dim, float* tile, int tile_stride) {
  const int vecs = head_dim / 4;
  for (int i = threadIdx.x; i < n_rows * vecs; i += kThreads) {
    const int row = i / vecs;
    const int d = 4 * (i % vecs);
    const float4 value = row < n_valid ? Load4AsFloat(src + row * src_stride + d)
                                       : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    *reinterpret_cast<float4*>(tile + row * tile_stride + d) = value;
  }
}

// Copies the K and V rows of cache positions [k0, k0 + n_valid) of one kv head into their tiles
// (position p's at k_head and v_head + KvRow(block_table, p) * kv_row), looking each position up
// once for both; rows [n_valid, kKeyTile) become zeros. Those read position k0 and drop it rather
// than skip the loads: a branch around them (and the lookup) would keep the loop's loads from
// being issued together.
template <typename T>
__device__ __forceinline__ void LoadKeysAndValues(const T* k_head, const T* v_head,
                                                  const int32_t* block_table, int64_t kv_row,
                                                  int64_t k0, int n_valid, int head_dim,
                                                  float* k_tile, int k_stride, float* v_tile) {
  const int vecs = head_dim / 4;
  for (int i = threadIdx.x; i < kKeyTile * vecs; i += kThreads) {
    const int row = i / vecs;
    const int d = 4 * (i % vecs);
    const bool valid = row < n_valid;
    const int64_t offset = KvRow(block_table, k0 + (valid ? row : 0)) * kv_row + d;
    const float4 key = Load4AsFloat(k_head + offset);
    const float4 value = Load4AsFloat(v_head + offset);
    const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    *reinterpret_cast<float4*>(k_tile + row * k_stride + d) = valid ? key : zero;
    *reinterpret_cast<float4*>(v_tile + row * head_dim + d) = valid ? value : zero;
  }
}

size_t SharedBytes(int head_dim) {
  const int k_stride = head_dim + 4;
  return (kQueryTile * head_dim + kKeyTile * k_stride + kKeyTile * head_dim +
          kQueryTile * kKeyTile) *
         sizeof(float);
}

// kVecs: float4 output columns per thread, head_dim <= 64 kVecs. Two blocks fit one SM up to
// head_dim 128.
template <typename T, typename O, int kVecs>
__global__ void __launch_bounds__(kThreads, kVecs <= 2 ? 2 : 1)
    AttentionPrefillKernel(const float* q, const KvCacheView* cache, int64_t n_tokens,
                           int64_t first_position, int64_t sliding_window, int n_heads,
                           int n_kv_heads, int head_dim, float scale_log2, O* out) {
  extern __shared__ float4 shared_vecs[];
  const int k_stride = head_dim + 4;
  float* q_tile = reinterpret_cast<float*>(shared_vecs);  // [kQueryTile, head_dim]
  float* k_tile = q_tile + kQueryTile * head_dim;         // [kKeyTile, head_dim + 4]
  float* v_tile = k_tile + kKeyTile * k_stride;           // [kKeyTile, head_dim]
  float* p_tile = v_tile + kKeyTile * head_dim;           // [kQueryTile, kKeyTile]

  const int64_t q0 = static_cast<int64_t>(gridDim.y - 1 - blockIdx.y) * kQueryTile;
  const int head = blockIdx.x;
  const int kv_head = head / (n_heads / n_kv_heads);
  const int n_queries = static_cast<int>(n_tokens - q0 < kQueryTile ? n_tokens - q0 : kQueryTile);
  const int tx = threadIdx.x % 16;
  const int ty = threadIdx.x / 16;
  const int n_vecs = head_dim / 4;
  const int64_t q_row = static_cast<int64_t>(n_heads) * head_dim;      // one token of q / out
  const int64_t kv_row = static_cast<int64_t>(n_kv_heads) * head_dim;  // one cache position
  const T* k_head = static_cast<const T*>(cache->keys) + kv_head * head_dim;
  const T* v_head = static_cast<const T*>(cache->values) + kv_head * head_dim;
  const int32_t* block_table = cache->block_table;
  // Pointers read from memory could point anywhere, for all the compiler knows, shared memory
  // included; told they are global, it may move their loads past the tiles' shared-memory stores.
  __builtin_assume(__isGlobal(k_head));
  __builtin_assume(__isGlobal(v_head));
  __builtin_assume(__isGlobal(block_table));

  LoadRows(q + q0 * q_row + head * head_dim, q_row, n_queries, kQueryTile, head_dim, q_tile,
           head_dim);

  // First and last visible cache positions of each owned row; padding rows copy the tile's last
  // real row.
  int64_t row_first[kRowsPerThread];
  int64_t row_last[kRowsPerThread];
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int row = ty * kRowsPerThread + i;
    row_last[i] = first_position + q0 + (row < n_queries ? row : n_queries - 1);
    row_first[i] = FirstVisible(row_last[i], sliding_window);
  }
  // Keys before the tile's first query's window are seen by none of its queries.
  const int64_t kv_begin = FirstVisible(first_position + q0, sliding_window);
  const int64_t kv_end = first_position + q0 + n_queries;

  float row_max[kRowsPerThread];
  // Over this thread's columns only; summed across the row at the end.
  float row_sum[kRowsPerThread] = {};
  float4 acc[kRowsPerThread][kVecs] = {};
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) row_max[i] = -INFINITY;

  for (int64_t k0 = kv_begin; k0 < kv_end; k0 += kKeyTile) {
    const int n_keys = static_cast<int>(kv_end - k0 < kKeyTile ? kv_end - k0 : kKeyTile);
    __syncthreads();  // the previous tile's readers are done
    LoadKeysAndValues(k_head, v_head, block_table, kv_row, k0, n_keys, head_dim, k_tile, k_stride,
                      v_tile);
    __syncthreads();

    float score[kRowsPerThread][kKeysPerThread] = {};
    for (int d = 0; d < head_dim; d += 4) {
      float4 q_vec[kRowsPerThread];
      float4 k_vec[kKeysPerThread];
#pragma unroll
      for (int i = 0; i < kRowsPerThread; ++i) {
        q_vec[i] =
            *reinterpret_cast<const float4*>(q_tile + (ty * kRowsPerThread + i) * head_dim + d);
      }
#pragma unroll
      for (int j = 0; j < kKeysPerThread; ++j) {
        k_vec[j] = *reinterpret_cast<const float4*>(k_tile + (tx + 16 * j) * k_stride + d);
      }
#pragma unroll
      for (int i = 0; i < kRowsPerThread; ++i) {
#pragma unroll
        for (int j = 0; j < kKeysPerThread; ++j) score[i][j] += Dot4(q_vec[i], k_vec[j]);
      }
    }

#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < kKeysPerThread; ++j) {
        const int64_t key = k0 + tx + 16 * j;
        const bool visible = key >= row_first[i] && key <= row_last[i];
        score[i][j] = visible ? score[i][j] * scale_log2 : -INFINITY;
        tile_max = fmaxf(tile_max, score[i][j]);
      }
      // Finite from the first tile on: row r's first visible key is at most kv_begin + r.
      const float new_max = fmaxf(row_max[i], RowMax(tile_max));
      const float rescale = exp2f(row_max[i] - new_max);
      row_max[i] = new_max;
      row_sum[i] *= rescale;
#pragma unroll
      for (int v = 0; v < kVecs; ++v) {
        acc[i][v].x *= rescale;
        acc[i][v].y *= rescale;
        acc[i][v].z *= rescale;
        acc[i][v].w *= rescale;
      }
#pragma unroll
      for (int j = 0; j < kKeysPerThread; ++j) {
        const float probability = exp2f(score[i][j] - new_max);
        row_sum[i] += probability;
        p_tile[(ty * kRowsPerThread + i) * kKeyTile + tx + 16 * j] = probability;
      }
    }
    __syncthreads();

    // Keys past n_keys have probability 0 and zero V rows.
    for (int key = 0; key < n_keys; key += 4) {
      float4 p_vec[kRowsPerThread];
#pragma unroll
      for (int i = 0; i < kRowsPerThread; ++i) {
        p_vec[i] =
            *reinterpret_cast<const float4*>(p_tile + (ty * kRowsPerThread + i) * kKeyTile + key);
      }
#pragma unroll
      for (int c = 0; c < 4; ++c) {
#pragma unroll
        for (int v = 0; v < kVecs; ++v) {
          const int vec = tx + 16 * v;
          if (vec < n_vecs) {
            const float4 v_vec =
                *reinterpret_cast<const float4*>(v_tile + (key + c) * head_dim + 4 * vec);
#pragma unroll
            for (int i = 0; i < kRowsPerThread; ++i) {
              AddScaled(acc[i][v], Component(p_vec[i], c), v_vec);
            }
          }
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int row = ty * kRowsPerThread + i;
    const float inv_sum = 1.0f / RowSum(row_sum[i]);
    if (row >= n_queries) continue;
    O* out_row = out + (q0 + row) * q_row + head * head_dim;
#pragma unroll
    for (int v = 0; v < kVecs; ++v) {
      const int vec = tx + 16 * v;
      if (vec < n_vecs) {
        const float4 a = acc[i][v];
        Store2FromFloat(a.x * inv_sum, a.y * inv_sum, out_row + 4 * vec);
        Store2FromFloat(a.z * inv_sum, a.w * inv_sum, out_row + 4 * vec + 2);
      }
    }
  }
}

template <typename T, typename O, int kVecs>
cudaError_t Launch(const float* q, const KvCacheView* cache, int64_t n_tokens,
                   int64_t first_position, const AttentionShape& shape, O* out,
                   cudaStream_t stream) {
  const size_t shared_bytes = SharedBytes(shape.head_dim);
  TESSERA_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(AttentionPrefillKernel<T, O, kVecs>,
                                                    cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                    static_cast<int>(shared_bytes)));
  const dim3 grid(shape.n_heads, BlocksFor(n_tokens, kQueryTile));
  AttentionPrefillKernel<T, O, kVecs><<<grid, kThreads, shared_bytes, stream>>>(
      q, cache, n_tokens, first_position, shape.sliding_window, shape.n_heads, shape.n_kv_heads,
      shape.head_dim, shape.scale * kLog2E, out);
  return cudaGetLastError();
}

}  // namespace

cudaError_t AttentionPrefill(const float* q, const KvCacheView* cache, DType cache_dtype,
                             int64_t n_tokens, int64_t first_position, const AttentionShape& shape,
                             void* out, DType out_dtype, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n_tokens >= 1 && first_position >= 0);
  TESSERA_CUDA_CHECK_ARG((n_tokens + kQueryTile - 1) / kQueryTile <= 65535);  // grid's y
  TESSERA_CUDA_CHECK_ARG(shape.n_heads > 0 && shape.n_kv_heads > 0);
  TESSERA_CUDA_CHECK_ARG(shape.n_heads % shape.n_kv_heads == 0);
  TESSERA_CUDA_CHECK_ARG(shape.head_dim > 0 && shape.head_dim % 4 == 0 &&
                         shape.head_dim <= kMaxHeadDim);
  TESSERA_CUDA_CHECK_ARG(shape.sliding_window >= 0);
  return DispatchDType(cache_dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return DispatchDType(out_dtype, [&](auto out_tag) {
      using O = typename decltype(out_tag)::type;
      O* o = static_cast<O*>(out);
      if (shape.head_dim <= 64) {
        return Launch<T, O, 1>(q, cache, n_tokens, first_position, shape, o, stream);
      }
      if (shape.head_dim <= 128) {
        return Launch<T, O, 2>(q, cache, n_tokens, first_position, shape, o, stream);
      }
      return Launch<T, O, 4>(q, cache, n_tokens, first_position, shape, o, stream);
    });
  });
}

}  // namespace tessera::cuda
