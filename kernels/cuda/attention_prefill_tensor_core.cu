// Flash attention in the style of FlashAttention-2. One block of four warps per (tile of 64
// queries, query head); each warp owns 16 query rows, held in registers as mma A fragments after
// one pass through shared memory (fp32 read, bf16 stored). Keys are visited 64 at a time. A key
// tile's K and V rows (bf16, [key][dim], rows padded by 8 values so that the eight 16-byte rows
// an ldmatrix reads fall in distinct banks) are staged into one of two buffers while the warps
// work on the other: a bf16 cache is copied with cp.async and needs no registers, other cache
// types are converted through registers. K's B fragments come from ldmatrix, V's from
// ldmatrix.trans, four 8x8 matrices (two mma's operands) per instruction. A key's K and V come
// from the pool row that the block table gives its position (kernels/kv_blocks.h). Each warp
// computes its 16 x 64 scores with m16n8k16 mma, masks them when the tile crosses the causal
// diagonal or a window's start, folds them into its running max and sum (log2 units, so exp is
// one exp2 of a fused multiply-add; a row's max is shared by its four lanes through two
// shuffles), and multiplies the probabilities, whose accumulator layout is already the
// A-fragment layout of the next mma, by V. Query tiles are issued longest first across all heads
// (the heads of a tile are neighbours in the grid), so that the last wave holds the short tiles;
// issued head by head, a head's long tiles started late and ran on after the others had ended.
// The output is written in fp32 or, for a projection that takes 16-bit rows, in the weights' type.
// Keys outside [the tile's first visible position, the cache's end) are staged as zeros, so
// values there (possibly never written) cannot turn a zero probability into NaN.
#include "kernels/cuda/attention_prefill_tensor_core.h"

#include <cuda_bf16.h>

#include <cmath>
#include <type_traits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"
#include "kernels/cuda/warp_mma.cuh"

namespace tessera::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRowBlock = 16;  // one mma's rows
// R row blocks a warp: tiles of 64 R queries.
template <int R>
constexpr int kQueryTile = kWarps* kRowBlock* R;
constexpr int kKeyTile = 64;
constexpr int kPad = 8;  // bf16 values after each shared row
constexpr float kLog2E = 1.4426950408889634f;
static_assert(kQueryTile<1> <= 2 * kKeyTile, "the Q tile of one row block passes through a buffer");

// Shared memory: two buffers, each a K tile and a V tile of [kKeyTile][D + kPad] bf16. With one
// row block a warp the Q tile passes through the second buffer into registers before the first
// key tile is read; with more it keeps a region of its own after them, [kQueryTile][D + kPad].
template <int D>
constexpr int kTileValues = (D + kPad) * kKeyTile;
template <int D, int R>
constexpr int kQueryTileValues = R == 1 ? 0 : (D + kPad) * kQueryTile<R>;
template <int D, int R>
constexpr size_t kSharedBytes = (4 * kTileValues<D> + kQueryTileValues<D, R>)*sizeof(__nv_bfloat16);

// Rows [first_row, first_row + 64) of a matrix of fp32, bf16 or fp16 (row r's D values at
// src + row_offset(r)) into dst ([64][D + kPad] bf16) through registers; rows outside
// [valid_begin, valid_end) become zeros. Such a row reads row valid_begin and drops it rather
// than skip the load: a branch around the load (and the row's lookup) would keep the loop's loads
// from being issued together. The fixed trip count lets the loop unroll without a remainder.
template <int D, int kRows, typename T, typename RowOffset>
__device__ void ConvertRows(const T* src, RowOffset row_offset, int64_t first_row,
                            int64_t valid_begin, int64_t valid_end, __nv_bfloat16* dst) {
  constexpr int kVecsPerRow = D / 4;
  static_assert(kRows * kVecsPerRow % kThreads == 0);
#pragma unroll 4
  for (int step = 0; step < kRows * kVecsPerRow / kThreads; ++step) {
    const int i = threadIdx.x + kThreads * step;
    const int r = i / kVecsPerRow;
    const int d = (i % kVecsPerRow) * 4;
    const int64_t row = first_row + r;
    const bool valid = row >= valid_begin && row < valid_end;
    const float4 loaded = Load4AsFloat(src + row_offset(valid ? row : valid_begin) + d);
    const float4 v = valid ? loaded : float4{0, 0, 0, 0};
    *reinterpret_cast<uint2*>(dst + r * (D + kPad) + d) = {Pack<__nv_bfloat16>(v.x, v.y),
                                                           Pack<__nv_bfloat16>(v.z, v.w)};
  }
}

// A key tile's K and V rows into k_dst and v_dst: copied as they are from a bf16 cache (to be
// waited for with WaitForCopyGroups<0>), converted from any other.
template <int D, typename T, typename RowOffset>
__device__ void StageKeyTile(const T* k_src, const T* v_src, RowOffset row_offset,
                             int64_t first_row, int64_t valid_begin, int64_t valid_end,
                             __nv_bfloat16* k_dst, __nv_bfloat16* v_dst) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    constexpr int kCopiesPerRow = D / 8;
    static_assert(kKeyTile * kCopiesPerRow % kThreads == 0);
    // Four rows' block-table lookups at a time: unrolled whole (eight at head_dim 128) the
    // addresses took 65 more registers (251 against 186), and two row blocks a warp spilled twice
    // as much.
#pragma unroll 4
    for (int step = 0; step < kKeyTile * kCopiesPerRow / kThreads; ++step) {
      const int i = threadIdx.x + kThreads * step;
      const int r = i / kCopiesPerRow;
      const int d = (i % kCopiesPerRow) * 8;
      const int64_t row = first_row + r;
      const bool valid = row >= valid_begin && row < valid_end;
      const int64_t offset = row_offset(valid ? row : valid_begin) + d;
      CopyAsync16(k_dst + r * (D + kPad) + d, k_src + offset, valid);
      CopyAsync16(v_dst + r * (D + kPad) + d, v_src + offset, valid);
    }
    CommitCopies();
  } else {
    ConvertRows<D, kKeyTile>(k_src, row_offset, first_row, valid_begin, valid_end, k_dst);
    ConvertRows<D, kKeyTile>(v_src, row_offset, first_row, valid_begin, valid_end, v_dst);
  }
}

// R row blocks a warp. With R = 2 each K or V fragment read from shared memory feeds two mma's
// (one a row block), halving the shared-memory reads per flop that bound R = 1 (a warp's 64 loads
// of 512 bytes per key tile took longer than its 128 mma's); the queries' fragments then no longer
// fit in registers beside both row blocks' scores and outputs, so they are read from shared
// memory with each tile.
template <int D, int R, typename T, typename O>
__global__ void __launch_bounds__(kThreads)
    AttentionPrefillTensorCoreKernel(const float* q, const KvCacheView* cache, int64_t n_tokens,
                                     int64_t first_position, int n_heads, int n_kv_heads,
                                     int64_t window, float scale_log2, O* out) {
  static_assert(D % 32 == 0, "fragments are loaded for two mma steps at a time");
  constexpr int kRowStride = D + kPad;
  constexpr int kTile = kQueryTile<R>;
  extern __shared__ __align__(16) __nv_bfloat16 shared[];
  // Buffer b's K tile, then its V tile.
  const auto k_tile_of = [&](int b) { return shared + 2 * b * kTileValues<D>; };
  const auto v_tile_of = [&](int b) { return shared + (2 * b + 1) * kTileValues<D>; };
  __nv_bfloat16* q_tile = R == 1 ? k_tile_of(1) : shared + 4 * kTileValues<D>;

  const int64_t tile = gridDim.y - 1 - blockIdx.y;  // longest first
  const int head = blockIdx.x;
  const int kv_head = head / (n_heads / n_kv_heads);
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int g = lane / 4;  // the row (and B-fragment column) this lane serves
  const int t = lane % 4;  // its pair of columns (A) or rows (B)
  // The row and the matrix whose address this lane gives ldmatrix.
  const int matrix_row = lane % 8;
  const int matrix = lane / 8;
  const int64_t q_stride = static_cast<int64_t>(n_heads) * D;
  const int64_t kv_stride = static_cast<int64_t>(n_kv_heads) * D;
  const int64_t first_token = tile * kTile;
  const int64_t first_query = first_position + first_token;  // the tile's first position
  const int64_t tile_end = first_token + kTile < n_tokens ? first_token + kTile : n_tokens;
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
  const auto stage = [&](int64_t key_begin, int buffer) {
    StageKeyTile<D>(k_head, v_head, cache_row, key_begin, first_key, cache_end, k_tile_of(buffer),
                    v_tile_of(buffer));
  };
  stage(first_key, 0);

  const auto token_row = [&](int64_t token) { return token * q_stride; };
  ConvertRows<D, kTile>(q + head * D, token_row, first_token, 0, n_tokens, q_tile);
  __syncthreads();
  const int r0 = warp * kRowBlock * R;  // the warp's first row in the tile
  // Where this lane points ldmatrix for row block r's A fragment of dims kk * 16..: matrices 0-3
  // are rows 0-7 and 8-15 of dims 0-7, then the same rows of dims 8-15.
  const auto q_fragment = [&](int r, int kk) {
    return q_tile + (r0 + r * kRowBlock + matrix % 2 * 8 + matrix_row) * kRowStride + kk * 16 +
           matrix / 2 * 8;
  };
  // One row block: its D / 16 A fragments held in registers for the whole block.
  uint32_t q_frag[R == 1 ? D / 16 : 1][4];
  if constexpr (R == 1) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) LoadMatrices<false>(q_frag[kk], q_fragment(0, kk));
  }

  // This lane's rows: g and g + 8 of each of the warp's row blocks.
  int64_t row_position[R][2];
  float running_max[R][2];  // of the raw scores
  float running_sum[R][2];  // this lane's share; summed over the quad at the end
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      row_position[r][half] = first_query + r0 + r * kRowBlock + g + 8 * half;
      running_max[r][half] = -INFINITY;
      running_sum[r][half] = 0.0f;
    }
  }
  const int64_t warp_last_position = first_query + r0 + R * kRowBlock - 1;
  float o[R][D / 8][4] = {};

  const int64_t n_key_tiles = (last_query - first_key) / kKeyTile + 1;
  for (int64_t i = 0; i < n_key_tiles; ++i) {
    const int64_t key_begin = first_key + i * kKeyTile;
    const int buffer = static_cast<int>(i % 2);
    // Tile i has arrived, and every warp is done with tile i - 1 (or the Q tile), whose buffer
    // takes tile i + 1 next, while this one is read.
    WaitForCopyGroups<0>();
    __syncthreads();
    if (i + 1 < n_key_tiles) stage(key_begin + kKeyTile, 1 - buffer);
    // Keys past all of the warp's rows (on the diagonal of a tile of several row blocks) are
    // masked for every one of them: nothing to add.
    if (key_begin > warp_last_position) continue;
    const __nv_bfloat16* k_tile = k_tile_of(buffer);
    const __nv_bfloat16* v_tile = v_tile_of(buffer);

    // Scores: matrices 0-3 are keys j*8.. of dims kk*16 + 0, 8, 16, 24: B fragments for steps
    // kk and kk + 1, each used by every row block.
    float s[R][kKeyTile / 8][4] = {};
#pragma unroll
    for (int kk = 0; kk < D / 16; kk += 2) {
      uint32_t a[R][2][4];
#pragma unroll
      for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int step = 0; step < 2; ++step) {
          if constexpr (R == 1) {
#pragma unroll
            for (int e = 0; e < 4; ++e) a[r][step][e] = q_frag[kk + step][e];
          } else {
            LoadMatrices<false>(a[r][step], q_fragment(r, kk + step));
          }
        }
      }
#pragma unroll
      for (int j = 0; j < kKeyTile / 8; ++j) {
        uint32_t b[4];
        LoadMatrices<false>(b, k_tile + (j * 8 + matrix_row) * kRowStride + matrix * 8 + kk * 16);
#pragma unroll
        for (int r = 0; r < R; ++r) {
          Mma<__nv_bfloat16>(s[r][j], a[r][0], b[0], b[1]);
          Mma<__nv_bfloat16>(s[r][j], a[r][1], b[2], b[3]);
        }
      }
    }

    // Only tiles that cross the diagonal or a row's window start need the mask.
    const bool masked =
        key_begin + kKeyTile - 1 > first_query || (window > 0 && key_begin <= last_query - window);
    if (masked) {
#pragma unroll
      for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int j = 0; j < kKeyTile / 8; ++j) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int64_t key = key_begin + j * 8 + t * 2 + e % 2;
            const int64_t position = row_position[r][e / 2];
            const bool visible = key <= position && (window == 0 || key > position - window);
            if (!visible) s[r][j][e] = -INFINITY;
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float rescale[2];
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < kKeyTile / 8; ++j) {
          tile_max = fmaxf(tile_max, fmaxf(s[r][j][2 * half], s[r][j][2 * half + 1]));
        }
        const float new_max = fmaxf(running_max[r][half], QuadMax(tile_max));
        // A row that has seen no key yet keeps a max of -inf; subtracting 0 then keeps every
        // probability at exp2(-inf) = 0 instead of NaN.
        const float base = new_max == -INFINITY ? 0.0f : new_max * scale_log2;
        rescale[half] = exp2f(running_max[r][half] * scale_log2 - base);
        running_max[r][half] = new_max;
        running_sum[r][half] *= rescale[half];
#pragma unroll
        for (int j = 0; j < kKeyTile / 8; ++j) {
          s[r][j][2 * half] = exp2f(fmaf(s[r][j][2 * half], scale_log2, -base));
          s[r][j][2 * half + 1] = exp2f(fmaf(s[r][j][2 * half + 1], scale_log2, -base));
          running_sum[r][half] += s[r][j][2 * half] + s[r][j][2 * half + 1];
        }
      }
#pragma unroll
      for (int jd = 0; jd < D / 8; ++jd) {
        o[r][jd][0] *= rescale[0];
        o[r][jd][1] *= rescale[0];
        o[r][jd][2] *= rescale[1];
        o[r][jd][3] *= rescale[1];
      }
    }

    // Values: matrices 0-3 are keys kk*16 + 0 and + 8 of dims jd*8.., then of dims (jd + 1)*8..;
    // transposed, they are the B fragments of steps jd and jd + 1, each used by every row block.
#pragma unroll
    for (int kk = 0; kk < kKeyTile / 16; ++kk) {
      uint32_t p[R][4];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        p[r][0] = Pack<__nv_bfloat16>(s[r][2 * kk][0], s[r][2 * kk][1]);
        p[r][1] = Pack<__nv_bfloat16>(s[r][2 * kk][2], s[r][2 * kk][3]);
        p[r][2] = Pack<__nv_bfloat16>(s[r][2 * kk + 1][0], s[r][2 * kk + 1][1]);
        p[r][3] = Pack<__nv_bfloat16>(s[r][2 * kk + 1][2], s[r][2 * kk + 1][3]);
      }
      const __nv_bfloat16* value_row =
          v_tile + (kk * 16 + matrix % 2 * 8 + matrix_row) * kRowStride + matrix / 2 * 8;
#pragma unroll
      for (int jd = 0; jd < D / 8; jd += 2) {
        uint32_t b[4];
        LoadMatrices<true>(b, value_row + jd * 8);
#pragma unroll
        for (int r = 0; r < R; ++r) {
          Mma<__nv_bfloat16>(o[r][jd], p[r], b[0], b[1]);
          Mma<__nv_bfloat16>(o[r][jd + 1], p[r], b[2], b[3]);
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t token = first_token + r0 + r * kRowBlock + g + 8 * half;
      const float sum = QuadSum(running_sum[r][half]);
      if (token >= n_tokens) continue;
      O* out_row = out + token * q_stride + head * D + t * 2;
#pragma unroll
      for (int jd = 0; jd < D / 8; ++jd) {
        Store2FromFloat(o[r][jd][2 * half] / sum, o[r][jd][2 * half + 1] / sum, out_row + jd * 8);
      }
    }
  }
}

template <int D, int R, typename T, typename O>
cudaError_t Launch(const float* q, const KvCacheView* cache, int64_t n_tokens,
                   int64_t first_position, const AttentionShape& shape, O* out,
                   cudaStream_t stream) {
  const auto kernel = AttentionPrefillTensorCoreKernel<D, R, T, O>;
  // Over the 48 KB a block gets unasked; set on every launch, as it holds per device.
  if (const cudaError_t error = cudaFuncSetAttribute(
          kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes<D, R>);
      error != cudaSuccess) {
    return error;
  }
  const dim3 grid(static_cast<unsigned>(shape.n_heads),
                  static_cast<unsigned>((n_tokens + kQueryTile<R> - 1) / kQueryTile<R>));
  kernel<<<grid, kThreads, kSharedBytes<D, R>, stream>>>(
      q, cache, n_tokens, first_position, shape.n_heads, shape.n_kv_heads, shape.sliding_window,
      shape.scale * kLog2E, out);
  return cudaGetLastError();
}

// Two row blocks a warp where a 16-bit cache is copied by cp.async and their tiles still give
// every SM two blocks (a 512-token prompt of 32 heads makes 128 such tiles for 132 SMs); one
// otherwise.
template <int D, typename T, typename O>
cudaError_t LaunchForLength(const float* q, const KvCacheView* cache, int64_t n_tokens,
                            int64_t first_position, const AttentionShape& shape, O* out,
                            cudaStream_t stream) {
  if constexpr (sizeof(T) == 2) {
    int sms = 0;
    TESSERA_CUDA_RETURN_IF_ERROR(CurrentDeviceSms(&sms));
    const int64_t wide_tiles = (n_tokens + kQueryTile<2> - 1) / kQueryTile<2>;
    if (wide_tiles * shape.n_heads >= 2 * int64_t{sms}) {
      return Launch<D, 2, T>(q, cache, n_tokens, first_position, shape, out, stream);
    }
  }
  return Launch<D, 1, T>(q, cache, n_tokens, first_position, shape, out, stream);
}

}  // namespace

bool AttentionPrefillTensorCoreSupports(const AttentionShape& shape) {
  return shape.head_dim == 64 || shape.head_dim == 96 || shape.head_dim == 128;
}

cudaError_t AttentionPrefillTensorCore(const float* q, const KvCacheView* cache, DType cache_dtype,
                                       int64_t n_tokens, int64_t first_position,
                                       const AttentionShape& shape, void* out, DType out_dtype,
                                       cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(AttentionPrefillTensorCoreSupports(shape));
  TESSERA_CUDA_CHECK_ARG(n_tokens >= 1 && first_position >= 0);
  TESSERA_CUDA_CHECK_ARG((n_tokens + kQueryTile<1> - 1) / kQueryTile<1> <= 65535);  // grid's y
  TESSERA_CUDA_CHECK_ARG(shape.n_heads > 0 && shape.n_kv_heads > 0);
  TESSERA_CUDA_CHECK_ARG(shape.n_heads % shape.n_kv_heads == 0);
  TESSERA_CUDA_CHECK_ARG(shape.sliding_window >= 0);
  return DispatchDType(cache_dtype, [&](auto cache_tag) {
    using T = typename decltype(cache_tag)::type;
    return DispatchDType(out_dtype, [&](auto out_tag) {
      using O = typename decltype(out_tag)::type;
      O* typed_out = static_cast<O*>(out);
      switch (shape.head_dim) {
        case 64:
          return LaunchForLength<64, T>(q, cache, n_tokens, first_position, shape, typed_out,
                                        stream);
        case 96:
          return LaunchForLength<96, T>(q, cache, n_tokens, first_position, shape, typed_out,
                                        stream);
        default:
          return LaunchForLength<128, T>(q, cache, n_tokens, first_position, shape, typed_out,
                                         stream);
      }
    });
  });
}

}  // namespace tessera::cuda
