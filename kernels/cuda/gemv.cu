// One warp per output row. On the vectorized path each lane reads 16 bytes of weights per load,
// so a warp reads 512 contiguous bytes per instruction, and keeps eight such loads in flight
// before using them; with 8 rows per block and thousands of rows there are enough bytes in flight
// to cover the memory latency. x is small and shared by every row: it is read through the
// read-only cache. Each lane's partial sums are combined with warp shuffles.
// A fused launch numbers the rows of its matrices one after another; a warp finds its matrix by
// subtracting their row counts, so the grid is as long as all of them together.
#include "kernels/cuda/gemv.h"

#include <cstdint>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"
#include "kernels/cuda/grid_dependency.cuh"

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

__device__ __forceinline__ float ReadAsFloat(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kF32:
      return static_cast<const float*>(data)[i];
    case DType::kF16:
      return ToFloat(static_cast<const __half*>(data)[i]);
    case DType::kBF16:
      return ToFloat(static_cast<const __nv_bfloat16*>(data)[i]);
  }
  return 0.0f;
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
  if (lane == 0) y[row] = g / (1.0f + expf(-g)) * u;
}

size_t ElementBytes(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

}  // namespace

cudaError_t GemvFused(std::span<const GemvMatrix> matrices, DType w_dtype, const float* x,
                      int64_t k, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(k > 0 && !matrices.empty() &&
                         matrices.size() <= kMaxFusedGemvMatrices);
  FusedMatrices fused{};
  fused.count = static_cast<int>(matrices.size());
  int64_t total_rows = 0;
  bool vectorized = k % (16 / ElementBytes(w_dtype)) == 0 && Aligned16(x);
  for (size_t m = 0; m < matrices.size(); ++m) {
    TESSERA_CUDA_CHECK_ARG(matrices[m].rows >= 0);
    fused.matrices[m] = matrices[m];
    total_rows += matrices[m].rows;
    vectorized = vectorized && Aligned16(matrices[m].w);
  }
  if (total_rows == 0) return cudaSuccess;
  // Two warps a row where a row is two to four batches of loads and the rows are few enough
  // that one warp each would leave the GPU a single short wave. (Longer rows, like the 8B
  // shape's down projection, measured slower split.)
  const int64_t batch_values = kLoadsInFlight * 32 * (16 / ElementBytes(w_dtype));
  const bool split_rows = vectorized && k >= 2 * batch_values && k <= 4 * batch_values &&
                          total_rows <= kSplitRowsAtMost;
  return DispatchDType(w_dtype, [&](auto tag) {
    using W = typename decltype(tag)::type;
    if (split_rows) {
      GemvFusedKernel<W, 2><<<BlocksFor(total_rows, kWarpsPerBlock / 2), kWarpsPerBlock * 32, 0,
                              stream>>>(fused, x, k, vectorized);
    } else {
      GemvFusedKernel<W, 1><<<BlocksFor(total_rows, kWarpsPerBlock), kWarpsPerBlock * 32, 0,
                              stream>>>(fused, x, k, vectorized);
    }
    return cudaGetLastError();
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
