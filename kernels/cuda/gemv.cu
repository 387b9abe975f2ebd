// One warp per output row. On the vectorized path each lane reads 16 bytes of weights per load,
// so a warp reads 512 contiguous bytes per instruction, and keeps eight such loads in flight
// before using them; with 8 rows per block and thousands of rows there are enough bytes in flight
// to cover the memory latency. x is small and shared by every row: it is read through the
// read-only cache. Each lane's partial sums are combined with warp shuffles.
// A fused launch numbers the rows of its matrices one after another; a warp finds its matrix by
// subtracting their row counts, so the grid is as long as all of them together.
#include "kernels/cuda/gemv.h"

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"
#include "kernels/cuda/grid_dependency.cuh"
#include "kernels/cuda/silu.cuh"
#include "kernels/kv_blocks.h"

namespace tessera::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kLoadsInFlight = 8;  // 16-byte loads per lane
constexpr int64_t kSplitRowsAtMost = 8192;

// Weights in one 16-byte load.
template <typename W>
constexpr int kPerLoad = 16 / sizeof(W);

// Dot product of one 16-byte load of weights with the matching x.
template <typename W>
__device__ __forceinline__ float DotLoad(uint4 weights, const float* x) {
  const float4 x_low = __ldg(reinterpret_cast<const float4*>(x));
  if constexpr (sizeof(W) == 4) {
    const float4 w = *reinterpret_cast<const float4*>(&weights);
    return w.x * x_low.x + w.y * x_low.y + w.z * x_low.z + w.w * x_low.w;
  } else {
    const float4 x_high = __ldg(reinterpret_cast<const float4*>(x) + 1);
    const float2 w01 = ToFloat2(weights.x, W{});
    const float2 w23 = ToFloat2(weights.y, W{});
    const float2 w45 = ToFloat2(weights.z, W{});
    const float2 w67 = ToFloat2(weights.w, W{});
    return w01.x * x_low.x + w01.y * x_low.y + w23.x * x_low.z + w23.y * x_low.w +
           w45.x * x_high.x + w45.y * x_high.y + w67.x * x_high.z + w67.y * x_high.w;
  }
}

// This lane's share of the dot products of kRows weight rows with x. Each lane issues
// kLoadsInFlight loads (128 bytes), shared among the rows, before it uses any of them: that many
// bytes in flight per lane is what reaches the bandwidth ceiling. Loads past the row's end are
// predicated off rather than left to a remainder loop, so short rows keep their loads in flight
// too. (Issuing the first loads before WaitForPrecedingKernels, since the weights do not depend on
// earlier kernels, made the 4096-wide GEMVs slower: the compiler no longer kept a whole batch in
// flight. Asking L2 to prefetch the first 16 MB of the rows, prefetch.global.L2 before the wait,
// slowed the llama-3-8b shape's decode from 144.1 to 140.9 tokens/s; 32 MB, to 136.7.)
// With `parts` warps on a row, this warp takes batches part, part + parts, ... of its loads.
template <typename W, int kRows>
__device__ __forceinline__ void LaneDots(const W* const (&rows)[kRows], const float* x, int64_t k,
                                         bool vectorized, int lane, float (&sums)[kRows],
                                         int part = 0, int parts = 1) {
  WaitForPrecedingKernels();
  if (!vectorized) {
    for (int64_t c = lane + 32 * part; c < k; c += 32 * parts) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) sums[r] += ToFloat(rows[r][c]) * x[c];
    }
    return;
  }
  constexpr int kPer = kPerLoad<W>;
  constexpr int kPerRow = kLoadsInFlight / kRows;
  const int64_t n_loads = k / kPer;
  for (int64_t c0 = lane + part * kPerRow * 32; c0 < n_loads; c0 += parts * kPerRow * 32) {
    uint4 loaded[kRows][kPerRow];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
#pragma unroll
      for (int i = 0; i < kPerRow; ++i) {
        const int64_t c = c0 + i * 32;
        loaded[r][i] = c < n_loads ? __ldg(reinterpret_cast<const uint4*>(rows[r]) + c)
                                   : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
#pragma unroll
      for (int i = 0; i < kPerRow; ++i) {
        const int64_t c = c0 + i * 32;
        if (c < n_loads) sums[r] += DotLoad<W>(loaded[r][i], x + c * kPer);
      }
    }
  }
}

struct FusedMatrices {
  GemvMatrix matrices[kMaxFusedGemvMatrices];
  int count;
};

// kWarpsPerRow warps share each row, each taking every kWarpsPerRow-th batch of its loads, and
// add their sums through shared memory: a row of 4096 weights is then read in one round trip per
// warp instead of two, which the 4096-row matrices of the decode step, one short wave of blocks,
// need.
template <typename W, int kWarpsPerRow>
__global__ void GemvFusedKernel(FusedMatrices fused, const float* x, int64_t k, bool vectorized) {
  constexpr int kRowsPerBlock = kWarpsPerBlock / kWarpsPerRow;
  __shared__ float part_sums[kWarpsPerBlock];
  const int warp = threadIdx.x / 32;
  const int part = warp % kWarpsPerRow;
  int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + warp / kWarpsPerRow;
  const int lane = threadIdx.x % 32;
  // Unrolled, so every index into the parameters is a constant: indexing them at run time would
  // copy the whole struct to local memory in every thread.
  GemvMatrix matrix;
  bool found = false;
#pragma unroll
  for (int m = 0; m < kMaxFusedGemvMatrices; ++m) {
    if (!found && m < fused.count) {
      if (row < fused.matrices[m].rows) {
        matrix = fused.matrices[m];
        found = true;
      } else {
        row -= fused.matrices[m].rows;
      }
    }
  }
  if (kWarpsPerRow == 1 && !found) return;  // with more, every warp must reach the barrier
  float sum = 0.0f;
  if (found) {
    const W* const rows[1] = {static_cast<const W*>(matrix.w) + row * k};
    float sums[1] = {0.0f};
    LaneDots<W, 1>(rows, x, k, vectorized, lane, sums, part, kWarpsPerRow);
    sum = WarpSum(sums[0]);
  }
  if constexpr (kWarpsPerRow > 1) {
    if (lane == 0) part_sums[warp] = sum;
    __syncthreads();
    if (!found || part != 0) return;
    for (int p = 1; p < kWarpsPerRow; ++p) sum += part_sums[warp + p];
  }
  if (lane == 0) {
    matrix.y[row] =
        matrix.bias == nullptr ? sum : sum + ReadAsFloat(matrix.bias, matrix.bias_dtype, row);
  }
}

// The two rows of a matrix of GemvQkvRope that one warp takes. Within a head of q or k, pair
// slots below rotary_dim / 2 are rotated pairs (dims 2i and 2i + 1, or i and i + rotary_dim / 2);
// those after cover the unrotated dims two by two; v's pairs are consecutive rows.
struct RowPair {
  int64_t first, second;
  int rotated = -1;  // the rotary pair's index, or -1
};

__device__ RowPair RowPairOf(int matrix, int64_t pair, const GemvRope& rope) {
  if (matrix == 2) return {2 * pair, 2 * pair + 1};
  const int half = rope.head_dim / 2;
  const int n_rotated = rope.rotary_dim / 2;
  const int64_t head_start = (pair / half) * rope.head_dim;
  const int slot = static_cast<int>(pair % half);
  const int64_t d = head_start + 2 * slot;  // dims 2 slot and 2 slot + 1
  if (slot >= n_rotated) return {d, d + 1};
  if (rope.style == RopeStyle::kAdjacentPairs) return {d, d + 1, slot};
  return {head_start + slot, head_start + slot + n_rotated, slot};
}

// GemvQkvRope: one warp (kWarpsPerPair warps, as GemvFusedKernel's rows) per pair of rows.
template <typename W, int kWarpsPerPair>
__global__ void GemvQkvRopeKernel(FusedMatrices qkv, const float* x, int64_t k, bool vectorized,
                                  GemvRope rope) {
  constexpr int kPairsPerBlock = kWarpsPerBlock / kWarpsPerPair;
  __shared__ float part_sums[kWarpsPerBlock][2];
  const int warp = threadIdx.x / 32;
  const int part = warp % kWarpsPerPair;
  const int lane = threadIdx.x % 32;
  int64_t pair = static_cast<int64_t>(blockIdx.x) * kPairsPerBlock + warp / kWarpsPerPair;
  int matrix = -1;
#pragma unroll
  for (int m = 0; m < 3; ++m) {
    if (matrix < 0) {
      if (pair < qkv.matrices[m].rows / 2) {
        matrix = m;
      } else {
        pair -= qkv.matrices[m].rows / 2;
      }
    }
  }
  // Copied by constant indices: indexing the parameters at run time would copy them to local
  // memory.
  GemvMatrix mat = qkv.matrices[2];
  if (matrix == 0) mat = qkv.matrices[0];
  if (matrix == 1) mat = qkv.matrices[1];
  const RowPair rows = RowPairOf(matrix, pair, rope);
  // The epilogue's inputs are the host's (the position, the cache view) or weights: loaded before
  // LaneDots waits for the preceding kernels, their chain of dependent loads runs beside those
  // kernels' tail instead of after the dot products.
  const bool writes = matrix >= 0 && part == 0 && lane == 0;
  float bias[2] = {0.0f, 0.0f};
  float cos_angle = 1.0f, sin_angle = 0.0f;
  void* pool = nullptr;
  int64_t kv_row = 0;
  if (writes) {
    if (mat.bias != nullptr) {
      bias[0] = ReadAsFloat(mat.bias, mat.bias_dtype, rows.first);
      bias[1] = ReadAsFloat(mat.bias, mat.bias_dtype, rows.second);
    }
    const int32_t position = *rope.position;
    if (rows.rotated >= 0) {
      sincosf(static_cast<float>(position) * rope.inv_freq[rows.rotated], &sin_angle, &cos_angle);
    }
    if (matrix > 0) {
      pool = matrix == 1 ? rope.cache->keys : rope.cache->values;
      kv_row = KvRow(rope.cache->block_table, position) * qkv.matrices[1].rows;
    }
  }
  float sums[2] = {0.0f, 0.0f};
  if (matrix >= 0) {  // warps past the last pair still reach the barrier below
    const W* const w = static_cast<const W*>(mat.w);
    const W* const pair_rows[2] = {w + rows.first * k, w + rows.second * k};
    LaneDots<W, 2>(pair_rows, x, k, vectorized, lane, sums, part, kWarpsPerPair);
    sums[0] = WarpSum(sums[0]);
    sums[1] = WarpSum(sums[1]);
  }
  if constexpr (kWarpsPerPair > 1) {
    if (lane == 0) {
      part_sums[warp][0] = sums[0];
      part_sums[warp][1] = sums[1];
    }
    __syncthreads();
    if (part == 0) {
      for (int p = 1; p < kWarpsPerPair; ++p) {
        sums[0] += part_sums[warp + p][0];
        sums[1] += part_sums[warp + p][1];
      }
    }
  }
  if (!writes) return;
  float a = sums[0] + bias[0];
  float b = sums[1] + bias[1];
  if (rows.rotated >= 0) {
    const float c = cos_angle * rope.scale;
    const float s = sin_angle * rope.scale;
    const float rotated_a = a * c - b * s;
    b = a * s + b * c;
    a = rotated_a;
  }
  if (matrix == 0) {
    mat.y[rows.first] = a;
    mat.y[rows.second] = b;
    return;
  }
  StoreFromFloat(a, pool, rope.cache_dtype, kv_row + rows.first);
  StoreFromFloat(b, pool, rope.cache_dtype, kv_row + rows.second);
}

template <typename W>
__global__ void GemvSwiGluKernel(const W* gate, const W* up, const float* x, int64_t n,
                                 int64_t k, bool vectorized, float* y) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  const W* const rows[2] = {gate + row * k, up + row * k};
  float sums[2] = {0.0f, 0.0f};
  LaneDots<W, 2>(rows, x, k, vectorized, lane, sums);
  const float g = WarpSum(sums[0]);
  const float u = WarpSum(sums[1]);
  if (lane == 0) y[row] = Silu(g) * u;
}

size_t ElementBytes(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

// How a GEMV over `matrices` runs: their rows numbered one after another, the vectorized path
// where k and every pointer allow 16-byte loads, and several warps a row where a row is two to
// four batches of loads and the rows are few enough that one warp each would leave the GPU a
// single short wave: two warps for two batches, four for three or four, so that each warp's loads
// are one round trip. (Longer rows, like the 8B shape's down projection, measured slower split.)
struct GemvPlan {
  FusedMatrices fused{};
  int64_t total_rows = 0;
  bool vectorized = false;
  int warps_per_row = 1;
};

GemvPlan PlanGemv(std::span<const GemvMatrix> matrices, DType w_dtype, const float* x, int64_t k) {
  GemvPlan plan;
  plan.fused.count = static_cast<int>(matrices.size());
  plan.vectorized = k % (16 / ElementBytes(w_dtype)) == 0 && Aligned16(x);
  for (size_t m = 0; m < matrices.size(); ++m) {
    plan.fused.matrices[m] = matrices[m];
    plan.total_rows += matrices[m].rows;
    plan.vectorized = plan.vectorized && Aligned16(matrices[m].w);
  }
  const int64_t batch_values = kLoadsInFlight * 32 * (16 / ElementBytes(w_dtype));
  if (plan.vectorized && k >= 2 * batch_values && k <= 4 * batch_values &&
      plan.total_rows <= kSplitRowsAtMost) {
    plan.warps_per_row = k <= 2 * batch_values ? 2 : 4;
  }
  return plan;
}

// Calls launch(std::integral_constant<int, W>{}) for the plan's W warps a row.
template <typename Launch>
cudaError_t DispatchWarpsPerRow(const GemvPlan& plan, Launch launch) {
  switch (plan.warps_per_row) {
    case 4:
      return launch(std::integral_constant<int, 4>{});
    case 2:
      return launch(std::integral_constant<int, 2>{});
    default:
      return launch(std::integral_constant<int, 1>{});
  }
}

}  // namespace

cudaError_t GemvFused(std::span<const GemvMatrix> matrices, DType w_dtype, const float* x,
                      int64_t k, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(k > 0 && !matrices.empty() &&
                         matrices.size() <= kMaxFusedGemvMatrices);
  for (const GemvMatrix& matrix : matrices) TESSERA_CUDA_CHECK_ARG(matrix.rows >= 0);
  const GemvPlan plan = PlanGemv(matrices, w_dtype, x, k);
  if (plan.total_rows == 0) return cudaSuccess;
  return DispatchDType(w_dtype, [&](auto tag) {
    using W = typename decltype(tag)::type;
    return DispatchWarpsPerRow(plan, [&](auto warps_per_row) {
      constexpr int kWarpsPerRow = decltype(warps_per_row)::value;
      GemvFusedKernel<W, kWarpsPerRow>
          <<<BlocksFor(plan.total_rows, kWarpsPerBlock / kWarpsPerRow), kWarpsPerBlock * 32, 0,
             stream>>>(plan.fused, x, k, plan.vectorized);
      return cudaGetLastError();
    });
  });
}

cudaError_t GemvQkvRope(std::span<const GemvMatrix, 3> qkv, DType w_dtype, const float* x,
                        int64_t k, const GemvRope& rope, cudaStream_t stream) {
  const int head_dim = rope.head_dim;
  TESSERA_CUDA_CHECK_ARG(k > 0 && head_dim > 0 && head_dim % 2 == 0);
  TESSERA_CUDA_CHECK_ARG(rope.rotary_dim > 0 && rope.rotary_dim % 2 == 0 &&
                         rope.rotary_dim <= head_dim);
  TESSERA_CUDA_CHECK_ARG(qkv[0].rows > 0 && qkv[0].rows % head_dim == 0 && qkv[1].rows > 0 &&
                         qkv[1].rows % head_dim == 0 && qkv[2].rows == qkv[1].rows);
  const GemvPlan plan = PlanGemv(qkv, w_dtype, x, k);
  const int64_t pairs = plan.total_rows / 2;
  return DispatchDType(w_dtype, [&](auto tag) {
    using W = typename decltype(tag)::type;
    return DispatchWarpsPerRow(plan, [&](auto warps_per_row) {
      constexpr int kWarpsPerPair = decltype(warps_per_row)::value;
      GemvQkvRopeKernel<W, kWarpsPerPair>
          <<<BlocksFor(pairs, kWarpsPerBlock / kWarpsPerPair), kWarpsPerBlock * 32, 0, stream>>>(
              plan.fused, x, k, plan.vectorized, rope);
      return cudaGetLastError();
    });
  });
}

cudaError_t Gemv(const void* w, DType w_dtype, const float* x, int64_t n, int64_t k, float* y,
                 cudaStream_t stream) {
  const GemvMatrix matrix{.w = w, .rows = n, .y = y};
  return GemvFused({&matrix, 1}, w_dtype, x, k, stream);
}

cudaError_t GemvSwiGlu(const void* gate, const void* up, DType w_dtype, const float* x, int64_t n,
                       int64_t k, float* y, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n >= 0 && k > 0);
  if (n == 0) return cudaSuccess;
  const bool vectorized = k % (16 / ElementBytes(w_dtype)) == 0 && Aligned16(gate) &&
                          Aligned16(up) && Aligned16(x);
  const unsigned blocks = BlocksFor(n, kWarpsPerBlock);
  return DispatchDType(w_dtype, [&](auto tag) {
    using W = typename decltype(tag)::type;
    GemvSwiGluKernel<W><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
        static_cast<const W*>(gate), static_cast<const W*>(up), x, n, k, vectorized, y);
    return cudaGetLastError();
  });
}

}  // namespace tessera::cuda
