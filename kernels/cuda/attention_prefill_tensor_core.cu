// Flash attention in the style of FlashAttention-2. One block of four warps per (tile of 64
// queries, query head); each warp owns 16 query rows. The query tile is staged once through
// shared memory (fp32 read, bf16 stored) into registers as mma A fragments. Per 64-key tile the
// block stages K (bf16, [key][dim]) and V transposed (bf16, [dim][key]), so that every B fragment
// is a 32-bit shared-memory load of two neighbouring values; rows are padded by 8 values so the
// eight row groups of a fragment load hit distinct banks. A key's K and V come from the pool row
// that the block table gives its position (kernels/kv_blocks.h). Each warp then computes its
// 16 x 64 scores with m16n8k16 mma, masks them (causal, window, past the cache), folds them into
// its running max and sum (log2 units, so exp is one exp2; the max is shared by the four lanes of
// a row through two shuffles), and multiplies the probabilities, whose accumulator layout is
// already the A-fragment layout of the next mma, by V. Query tiles are issued longest first.
// Keys outside [the tile's first visible position, the cache's end) are staged as zeros, so
// values there (possibly never written) cannot turn a zero probability into NaN; their loads read
// the first visible key instead, as the block table ends with the cache.
#include "kernels/cuda/attention_prefill_tensor_core.h"

#include <cuda_bf16.h>

#include <cmath>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"

namespace tessera::cuda {
namespace {

constexpr int kQueryTile = 64;
constexpr int kKeyTile = 64;
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = kQueryTile / kWarps;  // 16: one mma row block
constexpr int kPad = 8;                            // bf16 values after each shared row
constexpr float kLog2E = 1.4426950408889634f;
static_assert(kRowsPerWarp == 16);

__device__ __forceinline__ void Mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t Pack(float low, float high) {
  const __nv_bfloat162 pair = __floats2bfloat162_rn(low, high);
  return *reinterpret_cast<const uint32_t*>(&pair);
}

__device__ __forceinline__ uint32_t Load32(const __nv_bfloat16* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

// Rows [first_row, first_row + 64) of a matrix of fp32, bf16 or fp16 (row r's D values at
// src + row_offset(r)) into dst ([64][D + kPad] bf16); rows outside [valid_begin, valid_end)
// become zeros. Such a row reads row valid_begin and drops it rather than skip the load: a branch
// around the load (and the row's lookup) would keep the loop's loads from being issued together.
// The fixed trip count lets the loop unroll without a remainder.
template <int D, typename T, typename RowOffset>
__device__ void StageRows(const T* src, RowOffset row_offset, int64_t first_row,
                          int64_t valid_begin, int64_t valid_end, __nv_bfloat16* dst) {
  constexpr int kVecsPerRow = D / 4;
  static_assert(kKeyTile * kVecsPerRow % kThreads == 0);
#pragma unroll 4
  for (int step = 0; step < kKeyTile * kVecsPerRow / kThreads; ++step) {
    const int i = threadIdx.x + kThreads * step;
    const int r = i / kVecsPerRow;
    const int d = (i % kVecsPerRow) * 4;
    const int64_t row = first_row + r;
    const bool valid = row >= valid_begin && row < valid_end;
    const float4 loaded = Load4AsFloat(src + row_offset(valid ? row : valid_begin) + d);
    const float4 v = valid ? loaded : float4{0, 0, 0, 0};
    *reinterpret_cast<uint2*>(dst + r * (D + kPad) + d) = {Pack(v.x, v.y), Pack(v.z, v.w)};
  }
}

// The same rows transposed: dst[d][r] ([D][64 + kPad] bf16). Neighbouring threads write
// neighbouring keys, and each thread stays on one row, so it looks the row up once.
template <int D, typename T, typename RowOffset>
__device__ void StageTransposed(const T* src, RowOffset row_offset, int64_t first_row,
                                int64_t valid_begin, int64_t valid_end, __nv_bfloat16* dst) {
  constexpr int kRowThreads = kThreads / kKeyTile;  // threads that share a row
  static_assert(kThreads % kKeyTile == 0 && D / 4 % kRowThreads == 0);
  const int r = threadIdx.x % kKeyTile;
  const int64_t row = first_row + r;
  const bool valid = row >= valid_begin && row < valid_end;
  const T* row_src = src + row_offset(valid ? row : valid_begin);
#pragma unroll
  for (int step = 0; step < D / 4 / kRowThreads; ++step) {
    const int d = (threadIdx.x / kKeyTile + kRowThreads * step) * 4;
    const float4 loaded = Load4AsFloat(row_src + d);
    const float4 v = valid ? loaded : float4{0, 0, 0, 0};
    constexpr int kStride = kKeyTile + kPad;
    dst[(d + 0) * kStride + r] = __float2bfloat16_rn(v.x);
    dst[(d + 1) * kStride + r] = __float2bfloat16_rn(v.y);
    dst[(d + 2) * kStride + r] = __float2bfloat16_rn(v.z);
    dst[(d + 3) * kStride + r] = __float2bfloat16_rn(v.w);
  }
}

// Max and sum over the four lanes that hold one row of an mma accumulator.
__device__ __forceinline__ float QuadMax(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float QuadSum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

template <int D, typename T>
__global__ void __launch_bounds__(kThreads)
    AttentionPrefillTensorCoreKernel(const float* q, const KvCacheView* cache, int64_t n_tokens,
                                     int64_t first_position, int n_heads, int n_kv_heads,
                                     int64_t window, float scale_log2, float* out) {
  constexpr int kRowStride = D + kPad;
  constexpr int kKeyStride = kKeyTile + kPad;
  __shared__ __align__(16) __nv_bfloat16 rows[kKeyTile * kRowStride];  // the Q tile, then K tiles
  __shared__ __align__(16) __nv_bfloat16 v_t[D * kKeyStride];          // V tile, [dim][key]

  const int64_t tile = gridDim.x - 1 - blockIdx.x;  // longest first
  const int head = blockIdx.y;
  const int kv_head = head / (n_heads / n_kv_heads);
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int g = lane / 4;  // the row (and B-fragment column) this lane serves
  const int t = lane % 4;  // its pair of columns (A) or rows (B)
  const int64_t q_stride = static_cast<int64_t>(n_heads) * D;
  const int64_t kv_stride = static_cast<int64_t>(n_kv_heads) * D;
  const int64_t first_token = tile * kQueryTile;
  const int64_t first_query = first_position + first_token;  // the tile's first position
  const int64_t tile_end =
      first_token + kQueryTile < n_tokens ? first_token + kQueryTile : n_tokens;
  const int64_t last_query = first_position + tile_end - 1;
  const int64_t cache_end = first_position + n_tokens;
  const int64_t first_key =
      window > 0 && first_query - window + 1 > 0 ? first_query - window + 1 : 0;
  const T* k_head = static_cast<const T*>(cache->keys) + kv_head * D;
  const T* v_head = static_cast<const T*>(cache->values) + kv_head * D;
  const int32_t* block_table = cache->block_table;
  // Pointers read from memory could point anywhere, for all the compiler knows, shared memory
  // included; told they are global, it may move their loads past the tiles' shared-memory stores.
  // (Made here, on the kernel's own values: with the same lines in a helper shared with the fp32
  // prefill, the 2048-token tensor-core prefill measured 808 us against 587 inline.)
  __builtin_assume(__isGlobal(k_head));
  __builtin_assume(__isGlobal(v_head));
  __builtin_assume(__isGlobal(block_table));
  const auto cache_row = [&](int64_t position) { return KvRow(block_table, position) * kv_stride; };

  // The warp's 16 query rows as A fragments, D / 16 of them.
  uint32_t q_frag[D / 16][4];
  const auto token_row = [&](int64_t token) { return token * q_stride; };
  StageRows<D>(q + head * D, token_row, first_token, 0, n_tokens, rows);
  __syncthreads();
  const int r0 = warp * kRowsPerWarp;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const __nv_bfloat16* base = rows + kk * 16 + t * 2;
    q_frag[kk][0] = Load32(base + (r0 + g) * kRowStride);
    q_frag[kk][1] = Load32(base + (r0 + g + 8) * kRowStride);
    q_frag[kk][2] = Load32(base + (r0 + g) * kRowStride + 8);
    q_frag[kk][3] = Load32(base + (r0 + g + 8) * kRowStride + 8);
  }

  // This lane's two rows: g and g + 8 of the warp's block.
  const int64_t row_position[2] = {first_query + r0 + g, first_query + r0 + g + 8};
  float running_max[2] = {-INFINITY, -INFINITY};
  float running_sum[2] = {0.0f, 0.0f};  // this lane's share; summed over the quad at the end
  float o[D / 8][4] = {};

  for (int64_t key_begin = first_key; key_begin <= last_query; key_begin += kKeyTile) {
    __syncthreads();  // the previous tile (or the Q tile) is no longer read
    StageRows<D>(k_head, cache_row, key_begin, first_key, cache_end, rows);
    StageTransposed<D>(v_head, cache_row, key_begin, first_key, cache_end, v_t);
    __syncthreads();

    float s[kKeyTile / 8][4] = {};
#pragma unroll
    for (int j = 0; j < kKeyTile / 8; ++j) {
      const __nv_bfloat16* key_row = rows + (j * 8 + g) * kRowStride + t * 2;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        Mma(s[j], q_frag[kk], Load32(key_row + kk * 16), Load32(key_row + kk * 16 + 8));
      }
    }

    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < kKeyTile / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int half = e / 2;
        const int64_t key = key_begin + j * 8 + t * 2 + e % 2;
        const int64_t position = row_position[half];
        const bool visible = key <= position && key < cache_end &&
                             (window == 0 || key > position - window);
        s[j][e] = visible ? s[j][e] * scale_log2 : -INFINITY;
        tile_max[half] = fmaxf(tile_max[half], s[j][e]);
      }
    }
    float rescale[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const float new_max = fmaxf(running_max[half], QuadMax(tile_max[half]));
      // A row that has seen no key yet keeps a max of -inf; subtracting 0 then keeps every
      // probability at exp2(-inf) = 0 instead of NaN.
      const float base = new_max == -INFINITY ? 0.0f : new_max;
      rescale[half] = exp2f(running_max[half] - base);
      running_max[half] = new_max;
      running_sum[half] *= rescale[half];
#pragma unroll
      for (int j = 0; j < kKeyTile / 8; ++j) {
        s[j][2 * half] = exp2f(s[j][2 * half] - base);
        s[j][2 * half + 1] = exp2f(s[j][2 * half + 1] - base);
        running_sum[half] += s[j][2 * half] + s[j][2 * half + 1];
      }
    }
#pragma unroll
    for (int jd = 0; jd < D / 8; ++jd) {
      o[jd][0] *= rescale[0];
      o[jd][1] *= rescale[0];
      o[jd][2] *= rescale[1];
      o[jd][3] *= rescale[1];
    }

#pragma unroll
    for (int kk = 0; kk < kKeyTile / 16; ++kk) {
      const uint32_t p[4] = {Pack(s[2 * kk][0], s[2 * kk][1]), Pack(s[2 * kk][2], s[2 * kk][3]),
                             Pack(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                             Pack(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int jd = 0; jd < D / 8; ++jd) {
        const __nv_bfloat16* value_row = v_t + (jd * 8 + g) * kKeyStride + kk * 16 + t * 2;
        Mma(o[jd], p, Load32(value_row), Load32(value_row + 8));
      }
    }
  }

#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t token = first_token + r0 + g + 8 * half;
    const float sum = QuadSum(running_sum[half]);
    if (token >= n_tokens) continue;
    float* out_row = out + token * q_stride + head * D + t * 2;
#pragma unroll
    for (int jd = 0; jd < D / 8; ++jd) {
      *reinterpret_cast<float2*>(out_row + jd * 8) = {o[jd][2 * half] / sum,
                                                     o[jd][2 * half + 1] / sum};
    }
  }
}

template <int D, typename T>
cudaError_t Launch(const float* q, const KvCacheView* cache, int64_t n_tokens,
                   int64_t first_position, const AttentionShape& shape, float* out,
                   cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((n_tokens + kQueryTile - 1) / kQueryTile),
                  static_cast<unsigned>(shape.n_heads));
  AttentionPrefillTensorCoreKernel<D, T><<<grid, kThreads, 0, stream>>>(
      q, cache, n_tokens, first_position, shape.n_heads, shape.n_kv_heads, shape.sliding_window,
      shape.scale * kLog2E, out);
  return cudaGetLastError();
}

}  // namespace

bool AttentionPrefillTensorCoreSupports(const AttentionShape& shape) {
  return shape.head_dim == 64 || shape.head_dim == 96 || shape.head_dim == 128;
}

cudaError_t AttentionPrefillTensorCore(const float* q, const KvCacheView* cache, DType cache_dtype,
                                       int64_t n_tokens, int64_t first_position,
                                       const AttentionShape& shape, float* out,
                                       cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(AttentionPrefillTensorCoreSupports(shape));
  TESSERA_CUDA_CHECK_ARG(n_tokens >= 1 && first_position >= 0);
  TESSERA_CUDA_CHECK_ARG(shape.n_heads > 0 && shape.n_heads <= 65535 && shape.n_kv_heads > 0);
  TESSERA_CUDA_CHECK_ARG(shape.n_heads % shape.n_kv_heads == 0);
  TESSERA_CUDA_CHECK_ARG(shape.sliding_window >= 0);
  return DispatchDType(cache_dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (shape.head_dim) {
      case 64:
        return Launch<64, T>(q, cache, n_tokens, first_position, shape, out, stream);
      case 96:
        return Launch<96, T>(q, cache, n_tokens, first_position, shape, out, stream);
      default:
        return Launch<128, T>(q, cache, n_tokens, first_position, shape, out, stream);
    }
  });
}

}  // namespace tessera::cuda
