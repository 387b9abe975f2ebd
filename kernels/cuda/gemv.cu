// One warp per output row. Where every block of a launch fits on the GPU at once with its rows in
// shared memory (the matrices of a small model's decode step), each warp has its rows
// bulk-copied there whole, before it waits for the kernels before it (RowLoads::kStaged).
// Otherwise, on the vectorized path each lane reads 16 bytes of weights per load, so a warp
// reads 512 contiguous bytes per instruction, and keeps eight such loads in flight before using
// them; with 8 rows per block and thousands of rows there are enough bytes in flight to cover the
// memory latency. x is small and shared by every row: it is read through the read-only cache.
// Each lane's partial sums are combined with warp shuffles.
// A fused launch numbers the rows of its matrices one after another; a warp finds its matrix by
// subtracting their row counts, so the grid is as long as all of them together.
#include "kernels/cuda/gemv.h"

#include <cstdint>
#include <tuple>
#include <type_traits>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/bulk_copy.cuh"
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

// How a warp's lanes get the weights of its rows (LaneDots).
enum class RowLoads {
  kBatches,   // batches of kLoadsInFlight loads a lane into registers, after the wait
  kOneBatch,  // one such batch, issued before WaitForPrecedingKernels
  kStaged,    // whole rows bulk-copied into the block's shared memory, started before the wait
};

template <RowLoads kLoads>
using RowLoadsConstant = std::integral_constant<RowLoads, kLoads>;

// Where a GEMV's lanes read x, once the kernels that wrote it are done: as the caller gave it, in
// global memory and shared by every row (read through the read-only cache), or normalized by a
// GemvNorm into the block's shared memory.
struct InputAsGiven {
  static constexpr bool kShared = false;
  const float* x;

  __device__ const float* operator()() const { return x; }
};

// cuda::RmsNorm of x with norm's weight, every block computing it for itself: x is one token's
// residual stream, a few kilobytes that L2 holds, and the block-wide sum costs less than a kernel
// boundary. Sums and products in RmsNorm's order. Every thread of the block must call it.
struct NormalizedInput {
  static constexpr bool kShared = true;
  const float* x;  // [k], 16-byte aligned, k a multiple of 4
  GemvNorm norm;
  int64_t k;

  __device__ const float* operator()() const {
    extern __shared__ float4 normalized[];  // [k / 4]
    const auto* x4 = reinterpret_cast<const float4*>(x);
    const int64_t vecs = k / 4;
    float sum_squares = 0.0f;
    for (int64_t j = threadIdx.x; j < vecs; j += blockDim.x) {
      const float4 v = x4[j];
      normalized[j] = v;
      sum_squares += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    const float inv_rms = rsqrtf(BlockSum(sum_squares) / static_cast<float>(k) + norm.eps);
    for (int64_t j = threadIdx.x; j < vecs; j += blockDim.x) {
      float4 v = normalized[j];
      v.x = v.x * inv_rms * ReadAsFloat(norm.weight, norm.dtype, 4 * j);
      v.y = v.y * inv_rms * ReadAsFloat(norm.weight, norm.dtype, 4 * j + 1);
      v.z = v.z * inv_rms * ReadAsFloat(norm.weight, norm.dtype, 4 * j + 2);
      v.w = v.w * inv_rms * ReadAsFloat(norm.weight, norm.dtype, 4 * j + 3);
      normalized[j] = v;
    }
    __syncthreads();
    return reinterpret_cast<const float*>(normalized);
  }
};

template <bool kShared>
__device__ __forceinline__ float4 LoadX(const float* x) {
  const auto* x4 = reinterpret_cast<const float4*>(x);
  if constexpr (kShared) {
    return *x4;
  } else {
    return __ldg(x4);
  }
}

// Dot product of one 16-byte load of weights with the matching x.
template <typename W, bool kSharedX>
__device__ __forceinline__ float DotLoad(uint4 weights, const float* x) {
  const float4 x_low = LoadX<kSharedX>(x);
  if constexpr (sizeof(W) == 4) {
    const float4 w = *reinterpret_cast<const float4*>(&weights);
    return w.x * x_low.x + w.y * x_low.y + w.z * x_low.z + w.w * x_low.w;
  } else {
    const float4 x_high = LoadX<kSharedX>(x + 4);
    const float2 w01 = ToFloat2(weights.x, W{});
    const float2 w23 = ToFloat2(weights.y, W{});
    const float2 w45 = ToFloat2(weights.z, W{});
    const float2 w67 = ToFloat2(weights.w, W{});
    return w01.x * x_low.x + w01.y * x_low.y + w23.x * x_low.z + w23.y * x_low.w +
           w45.x * x_high.x + w45.y * x_high.y + w67.x * x_high.z + w67.y * x_high.w;
  }
}

// A block's dynamic shared memory: the normalized input where there is one (k floats), then, where
// rows are staged, each warp's slot for its rows_per_warp rows of k weights.
template <typename Input>
__host__ __device__ constexpr size_t InputBytes(int64_t k) {
  return Input::kShared ? static_cast<size_t>(k) * sizeof(float) : 0;
}

template <typename W, typename Input>
constexpr size_t StagedBytes(int64_t k, int rows_per_warp) {
  return InputBytes<Input>(k) + static_cast<size_t>(kWarpsPerBlock * rows_per_warp * k) * sizeof(W);
}

// This warp's slot for kRows rows of k weights (StagedBytes' layout).
template <typename W, int kRows, typename Input>
__device__ __forceinline__ W* StagedRows(int64_t k) {
  extern __shared__ float4 dynamic_shared[];
  char* slots = reinterpret_cast<char*>(dynamic_shared) + InputBytes<Input>(k);
  return reinterpret_cast<W*>(slots) + static_cast<int64_t>(threadIdx.x / 32) * kRows * k;
}

// This lane's share of the dot products of kRows weight rows with the input's x. Each lane issues
// kLoadsInFlight loads (128 bytes), shared among the rows, before it uses any of them: that many
// bytes in flight per lane is what reaches the bandwidth ceiling. Loads past the row's end are
// predicated off rather than left to a remainder loop, so short rows keep their loads in flight
// too. (Asking L2 to prefetch the first 16 MB of the rows, prefetch.global.L2 before the wait,
// slowed the llama-3-8b shape's decode from 144.1 to 140.9 tokens/s; 32 MB, to 136.7. Later,
// with each kernel launching as its predecessor's blocks have all begun, prefetching each warp's
// first batch slowed it from 164.7 to 162.0.)
// With `parts` warps on a row, this warp takes batches part, part + parts, ... of its loads. A warp
// without a row passes k = 0: it loads nothing but still takes part in the input's block-wide
// work.
// kLoads == kOneBatch: the warp's loads are one batch (OneBatch), and it issues them before
// WaitForPrecedingKernels. The weights depend on no earlier kernel and the decode step's kernels
// launch while their predecessor runs, so the DRAM round trip overlaps that kernel (qwen2.5-0.5b's
// step, all of whose rows are one batch, went from 1032 to 1153 tokens/s on an H100). Rows of
// several batches wait first: holding a batch across the wait and into a loop took 20 more
// registers a thread, fewer blocks fitted on an SM, and the llama-3-8b shape's step slowed from
// 166 to 142 tokens/s.
// kLoads == kStaged: lane 0 bulk-copies the warp's whole rows into its slot of shared memory
// (StagedRows) before the wait, and the lanes read them from there: all of a row's bytes are in
// flight at once at no cost in registers, so every block of a launch can be resident at once.
template <typename W, int kRows, RowLoads kLoads, typename Input>
__device__ __forceinline__ void LaneDots(const W* const (&rows)[kRows], const Input& input,
                                         int64_t k, bool vectorized, int lane, float (&sums)[kRows],
                                         int part = 0, int parts = 1) {
  constexpr int kPer = kPerLoad<W>;
  if constexpr (kLoads == RowLoads::kStaged) {
    // A warp's barrier counts its own rows' bytes, so each warp starts on its rows as they land.
    __shared__ uint64_t rows_landed[kWarpsPerBlock];
    uint64_t* landed = &rows_landed[threadIdx.x / 32];
    W* staged = StagedRows<W, kRows, Input>(k);
    const auto row_bytes = static_cast<uint32_t>(k * sizeof(W));
    if (k > 0 && lane == 0) {
      InitCopyBarrier(landed);
      ExpectCopyBytes(landed, kRows * row_bytes);
#pragma unroll
      for (int r = 0; r < kRows; ++r) BulkCopyToShared(staged + r * k, rows[r], row_bytes, landed);
    }
    WaitForPrecedingKernels();
    const float* x = input();
    if (k == 0) return;
    __syncwarp();  // lane 0's barrier initialization, seen by the warp's other lanes
    WaitForCopies(landed);
    const int64_t n_loads = k / kPer;
    const auto* loaded = reinterpret_cast<const uint4*>(staged);
#pragma unroll 4
    for (int64_t c = lane; c < n_loads; c += 32) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        sums[r] += DotLoad<W, Input::kShared>(loaded[r * n_loads + c], x + c * kPer);
      }
    }
    return;
  }
  if (!vectorized) {
    WaitForPrecedingKernels();
    const float* x = input();
    for (int64_t c = lane + 32 * part; c < k; c += 32 * parts) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) sums[r] += ToFloat(rows[r][c]) * x[c];
    }
    return;
  }
  constexpr int kPerRow = kLoadsInFlight / kRows;
  const int64_t n_loads = k / kPer;
  using Batch = uint4[kRows][kPerRow];
  const auto load_batch = [&](int64_t c0, Batch& loaded) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
#pragma unroll
      for (int i = 0; i < kPerRow; ++i) {
        const int64_t c = c0 + i * 32;
        loaded[r][i] = c < n_loads ? __ldg(reinterpret_cast<const uint4*>(rows[r]) + c)
                                   : make_uint4(0, 0, 0, 0);
      }
    }
  };
  const auto dot_batch = [&](const float* x, int64_t c0, const Batch& loaded) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
#pragma unroll
      for (int i = 0; i < kPerRow; ++i) {
        const int64_t c = c0 + i * 32;
        if (c < n_loads) sums[r] += DotLoad<W, Input::kShared>(loaded[r][i], x + c * kPer);
      }
    }
  };
  const int64_t first = lane + part * kPerRow * 32;
  if constexpr (kLoads == RowLoads::kOneBatch) {
    Batch loaded;
    load_batch(first, loaded);
    WaitForPrecedingKernels();
    dot_batch(input(), first, loaded);
    return;
  }
  WaitForPrecedingKernels();
  const float* x = input();
  for (int64_t c0 = first; c0 < n_loads; c0 += parts * kPerRow * 32) {
    Batch loaded;
    load_batch(c0, loaded);
    dot_batch(x, c0, loaded);
  }
}

// Each warp's sums of its rows over the lanes, and with kParts warps a row (consecutive warps)
// over those warps too: part 0 gets the totals. Every warp of the block must call it.
template <int kParts, int kRows>
__device__ __forceinline__ void SumOverWarps(float (&sums)[kRows], int warp, int part, int lane) {
#pragma unroll
  for (int r = 0; r < kRows; ++r) sums[r] = WarpSum(sums[r]);
  if constexpr (kParts > 1) {
    __shared__ float part_sums[kWarpsPerBlock][kRows];
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) part_sums[warp][r] = sums[r];
    }
    __syncthreads();
    if (part != 0) return;
    for (int p = 1; p < kParts; ++p) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) sums[r] += part_sums[warp + p][r];
    }
  }
}

struct FusedMatrices {
  GemvMatrix matrices[kMaxFusedGemvMatrices];
  int count;
};

// The matrix that unit `index` of a fused launch falls in, its units numbered one matrix after
// another (`rows_per_unit` rows each), and index made relative to that matrix; -1 past the last.
__device__ __forceinline__ int FindMatrix(const FusedMatrices& fused, int rows_per_unit,
                                          int64_t& index) {
  int found = -1;
#pragma unroll
  for (int m = 0; m < kMaxFusedGemvMatrices; ++m) {
    if (found < 0 && m < fused.count) {
      const int64_t units = fused.matrices[m].rows / rows_per_unit;
      if (index < units) {
        found = m;
      } else {
        index -= units;
      }
    }
  }
  return found;
}

// fused.matrices[m] (the first for m < 0), copied by constant indices: indexing the kernel's
// parameters at run time would copy them all to local memory in every thread.
__device__ __forceinline__ GemvMatrix MatrixAt(const FusedMatrices& fused, int m) {
  GemvMatrix matrix = fused.matrices[0];
#pragma unroll
  for (int i = 1; i < kMaxFusedGemvMatrices; ++i) {
    if (m == i) matrix = fused.matrices[i];
  }
  return matrix;
}

// kWarpsPerRow warps share each row, each taking every kWarpsPerRow-th batch of its loads, and
// add their sums through shared memory: a row of 4096 weights is then read in one round trip per
// warp instead of two, which the 4096-row matrices of the decode step, one short wave of blocks,
// need.
template <typename W, int kWarpsPerRow, RowLoads kLoads, typename Input>
__global__ void GemvFusedKernel(FusedMatrices fused, Input input, int64_t k, bool vectorized) {
  static_assert(kLoads != RowLoads::kStaged || kWarpsPerRow == 1);
  constexpr int kRowsPerBlock = kWarpsPerBlock / kWarpsPerRow;
  const int warp = threadIdx.x / 32;
  const int part = warp % kWarpsPerRow;
  const int lane = threadIdx.x % 32;
  int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + warp / kWarpsPerRow;
  const int m = FindMatrix(fused, 1, row);
  const GemvMatrix matrix = MatrixAt(fused, m);
  const W* const rows[1] = {static_cast<const W*>(matrix.w) + row * k};
  float sums[1] = {0.0f};
  LaneDots<W, 1, kLoads>(rows, input, m >= 0 ? k : 0, vectorized, lane, sums, part, kWarpsPerRow);
  SumOverWarps<kWarpsPerRow>(sums, warp, part, lane);
  if (m < 0 || part != 0 || lane != 0) return;
  float product = sums[0];
  if (matrix.bias != nullptr) product += ReadAsFloat(matrix.bias, matrix.bias_dtype, row);
  matrix.y[row] = matrix.add_to_y ? matrix.y[row] + product : product;
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
template <typename W, int kWarpsPerPair, RowLoads kLoads, typename Input>
__global__ void GemvQkvRopeKernel(FusedMatrices qkv, Input input, int64_t k, bool vectorized,
                                  GemvRope rope) {
  static_assert(kLoads != RowLoads::kStaged || kWarpsPerPair == 1);
  constexpr int kPairsPerBlock = kWarpsPerBlock / kWarpsPerPair;
  const int warp = threadIdx.x / 32;
  const int part = warp % kWarpsPerPair;
  const int lane = threadIdx.x % 32;
  int64_t pair = static_cast<int64_t>(blockIdx.x) * kPairsPerBlock + warp / kWarpsPerPair;
  const int matrix = FindMatrix(qkv, 2, pair);
  const GemvMatrix mat = MatrixAt(qkv, matrix);
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
  const W* const w = static_cast<const W*>(mat.w);
  const W* const pair_rows[2] = {w + rows.first * k, w + rows.second * k};
  float sums[2] = {0.0f, 0.0f};
  LaneDots<W, 2, kLoads>(pair_rows, input, matrix >= 0 ? k : 0, vectorized, lane, sums, part,
                         kWarpsPerPair);
  SumOverWarps<kWarpsPerPair>(sums, warp, part, lane);
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

// Outputs a warp of GemvSwiGlu takes. Staged, two: half the blocks, each with twice the bytes in
// flight, which a decode step overlaps better with the kernel before (qwen2.5-0.5b on an H100:
// 1401 tokens/s with one, 1450 with two).
template <RowLoads kLoads>
constexpr int kSwiGluOutputsPerWarp = kLoads == RowLoads::kStaged ? 2 : 1;

// (Loading into registers, its 608 blocks for qwen2.5-0.5b took one and a half waves, and capping
// its registers so that they fitted in one, with 32 bytes spilled, slowed the step from 1297 to
// 1269 tokens/s. Staged, its 304 blocks fit in one wave.)
template <typename W, RowLoads kLoads, typename Input>
__global__ void GemvSwiGluKernel(const W* gate, const W* up, Input input, int64_t n, int64_t k,
                                 bool vectorized, float* y) {
  constexpr int kOutputs = kSwiGluOutputsPerWarp<kLoads>;
  const int64_t first =
      (static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32) * kOutputs;
  const int lane = threadIdx.x % 32;
  if (first >= n && !Input::kShared) return;  // a normalized input needs every warp of the block
  const W* rows[2 * kOutputs];
#pragma unroll
  for (int o = 0; o < kOutputs; ++o) {
    const int64_t row = first + o < n ? first + o : n - 1;  // past n: a real row, its sum unused
    rows[o] = gate + row * k;
    rows[kOutputs + o] = up + row * k;
  }
  float sums[2 * kOutputs] = {};
  LaneDots<W, 2 * kOutputs, kLoads>(rows, input, first < n ? k : 0, vectorized, lane, sums);
  SumOverWarps<1>(sums, 0, 0, lane);
  if (lane != 0) return;
#pragma unroll
  for (int o = 0; o < kOutputs; ++o) {
    if (first + o < n) y[first + o] = Silu(sums[o]) * sums[kOutputs + o];
  }
}

// Weights of `dtype` in one 16-byte load: kPerLoad's host twin.
int64_t ValuesPerLoad(DType dtype) { return 16 / static_cast<int64_t>(DTypeSize(dtype)); }

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
  plan.vectorized = k % ValuesPerLoad(w_dtype) == 0 && Aligned16(x);
  for (size_t m = 0; m < matrices.size(); ++m) {
    plan.fused.matrices[m] = matrices[m];
    plan.total_rows += matrices[m].rows;
    plan.vectorized = plan.vectorized && Aligned16(matrices[m].w);
  }
  const int64_t batch_values = kLoadsInFlight * 32 * ValuesPerLoad(w_dtype);
  if (plan.vectorized && k >= 2 * batch_values && k <= 4 * batch_values &&
      plan.total_rows <= kSplitRowsAtMost) {
    plan.warps_per_row = k <= 2 * batch_values ? 2 : 4;
  }
  return plan;
}

// Whether each warp's share of a row is one batch of loads (RowLoads::kOneBatch): k values over
// warps_per_row warps that take rows_per_warp rows each.
bool OneBatch(bool vectorized, DType w_dtype, int64_t k, int warps_per_row, int rows_per_warp) {
  const int64_t loads = k / ValuesPerLoad(w_dtype);
  return vectorized && loads <= int64_t{warps_per_row} * (kLoadsInFlight / rows_per_warp) * 32;
}

// A kernel of this file, its grid and its arguments, ready to launch with kWarpsPerBlock warps a
// block.
template <typename Kernel, typename... Args>
struct GemvLaunch {
  Kernel* kernel;
  unsigned blocks;
  std::tuple<Args...> args;
};

template <typename... Params, typename... Args>
GemvLaunch<void(Params...), Args...> MakeGemvLaunch(void (*kernel)(Params...), unsigned blocks,
                                                    Args... args) {
  return {kernel, blocks, {args...}};
}

// Allows `kernel` shared_bytes of dynamic shared memory, which past 48 KB it must ask for.
template <typename Kernel>
cudaError_t AllowSharedBytes(Kernel* kernel, size_t shared_bytes) {
  if (shared_bytes <= 48 * 1024) return cudaSuccess;
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(shared_bytes));
}

template <typename Kernel, typename... Args>
cudaError_t Launch(const GemvLaunch<Kernel, Args...>& launch, size_t shared_bytes,
                   cudaStream_t stream) {
  TESSERA_CUDA_RETURN_IF_ERROR(AllowSharedBytes(launch.kernel, shared_bytes));
  std::apply(
      [&](auto... args) {
        launch.kernel<<<launch.blocks, kWarpsPerBlock * 32, shared_bytes, stream>>>(args...);
      },
      launch.args);
  return cudaGetLastError();
}

// Whether all of the launch's blocks, with shared_bytes each, are resident on the GPU at once.
template <typename Kernel, typename... Args>
bool RunsInOneWave(const GemvLaunch<Kernel, Args...>& launch, size_t shared_bytes) {
  int device = 0;
  int sms = 0;
  int most_shared = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&most_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
          cudaSuccess) {
    return false;  // the launch meets the same error
  }
  if (shared_bytes > static_cast<size_t>(most_shared)) return false;
  int per_sm = 0;
  if (AllowSharedBytes(launch.kernel, shared_bytes) != cudaSuccess ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, launch.kernel, kWarpsPerBlock * 32,
                                                    shared_bytes) != cudaSuccess) {
    // Refused with its static shared memory, say: the launch loads into registers instead, and
    // the refusal must not surface as its error.
    cudaGetLastError();
    return false;
  }
  return launch.blocks <= int64_t{per_sm} * sms;
}

// Launches make(dtype tag, warps a row, row loads, input), a GemvLaunch, with the compile-time
// forms of the weights' type, the warps a row, how rows are loaded (RowLoadsConstant), and x as
// given or normalized by `norm` in a block's shared memory. Rows are staged in shared memory
// (one warp a row, staged_rows_per_warp rows a warp) where the vectorized path allows and the
// staged launch's blocks all fit on the GPU at once: the whole launch's weights are then in flight
// from the start, where loads into registers would leave some blocks for a second wave. Otherwise
// warps_per_row warps take a row, rows_per_warp rows a warp, in one batch of loads where OneBatch
// allows.
template <typename Make>
cudaError_t DispatchGemv(DType w_dtype, int warps_per_row, int rows_per_warp, bool vectorized,
                         int staged_rows_per_warp, const float* x, const GemvNorm& norm, int64_t k,
                         cudaStream_t stream, Make make) {
  const bool one_batch = OneBatch(vectorized, w_dtype, k, warps_per_row, rows_per_warp);
  const auto with_input = [&](auto tag, auto input) {
    using W = typename decltype(tag)::type;
    using Input = decltype(input);
    const size_t input_bytes = InputBytes<Input>(k);
    if (vectorized) {
      const auto staged =
          make(tag, std::integral_constant<int, 1>{}, RowLoadsConstant<RowLoads::kStaged>{}, input);
      const size_t staged_bytes = StagedBytes<W, Input>(k, staged_rows_per_warp);
      if (RunsInOneWave(staged, staged_bytes)) return Launch(staged, staged_bytes, stream);
    }
    const auto with_warps = [&](auto warps) {
      if (one_batch) {
        return Launch(make(tag, warps, RowLoadsConstant<RowLoads::kOneBatch>{}, input), input_bytes,
                      stream);
      }
      return Launch(make(tag, warps, RowLoadsConstant<RowLoads::kBatches>{}, input), input_bytes,
                    stream);
    };
    switch (warps_per_row) {
      case 4:
        return with_warps(std::integral_constant<int, 4>{});
      case 2:
        return with_warps(std::integral_constant<int, 2>{});
      default:
        return with_warps(std::integral_constant<int, 1>{});
    }
  };
  return DispatchDType(w_dtype, [&](auto tag) {
    if (norm.weight == nullptr) return with_input(tag, InputAsGiven{x});
    return with_input(tag, NormalizedInput{x, norm, k});
  });
}

// A normalized input's preconditions: whole float4s of x, held in a block's shared memory.
bool NormFits(const float* x, const GemvNorm& norm, int64_t k) {
  return norm.weight == nullptr ||
         (k % 4 == 0 && Aligned16(x) && k * sizeof(float) <= kMaxNormalizedBytes);
}

}  // namespace

cudaError_t GemvFused(std::span<const GemvMatrix> matrices, DType w_dtype, const float* x,
                      int64_t k, const GemvNorm& norm, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(k > 0 && !matrices.empty() && matrices.size() <= kMaxFusedGemvMatrices &&
                         NormFits(x, norm, k));
  for (const GemvMatrix& matrix : matrices) TESSERA_CUDA_CHECK_ARG(matrix.rows >= 0);
  const GemvPlan plan = PlanGemv(matrices, w_dtype, x, k);
  if (plan.total_rows == 0) return cudaSuccess;
  return DispatchGemv(
      w_dtype, plan.warps_per_row, /*rows_per_warp=*/1, plan.vectorized,
      /*staged_rows_per_warp=*/1, x, norm, k, stream,
      [&](auto tag, auto warps, auto loads, auto input) {
        using W = typename decltype(tag)::type;
        constexpr int kWarpsPerRow = decltype(warps)::value;
        return MakeGemvLaunch(
            GemvFusedKernel<W, kWarpsPerRow, decltype(loads)::value, decltype(input)>,
            BlocksFor(plan.total_rows, kWarpsPerBlock / kWarpsPerRow), plan.fused, input, k,
            plan.vectorized);
      });
}

cudaError_t GemvQkvRope(std::span<const GemvMatrix, 3> qkv, DType w_dtype, const float* x,
                        int64_t k, const GemvNorm& norm, const GemvRope& rope,
                        cudaStream_t stream) {
  const int head_dim = rope.head_dim;
  TESSERA_CUDA_CHECK_ARG(k > 0 && head_dim > 0 && head_dim % 2 == 0 && NormFits(x, norm, k));
  TESSERA_CUDA_CHECK_ARG(rope.rotary_dim > 0 && rope.rotary_dim % 2 == 0 &&
                         rope.rotary_dim <= head_dim);
  TESSERA_CUDA_CHECK_ARG(qkv[0].rows > 0 && qkv[0].rows % head_dim == 0 && qkv[1].rows > 0 &&
                         qkv[1].rows % head_dim == 0 && qkv[2].rows == qkv[1].rows);
  const GemvPlan plan = PlanGemv(qkv, w_dtype, x, k);
  const int64_t pairs = plan.total_rows / 2;
  return DispatchGemv(
      w_dtype, plan.warps_per_row, /*rows_per_warp=*/2, plan.vectorized,
      /*staged_rows_per_warp=*/2, x, norm, k, stream,
      [&](auto tag, auto warps, auto loads, auto input) {
        using W = typename decltype(tag)::type;
        constexpr int kWarpsPerPair = decltype(warps)::value;
        return MakeGemvLaunch(
            GemvQkvRopeKernel<W, kWarpsPerPair, decltype(loads)::value, decltype(input)>,
            BlocksFor(pairs, kWarpsPerBlock / kWarpsPerPair), plan.fused, input, k, plan.vectorized,
            rope);
      });
}

bool GemvNormPays(int64_t k, DType w_dtype) {
  // GemvSwiGlu's rows are the strictest: one warp takes two.
  return OneBatch(/*vectorized=*/true, w_dtype, k, /*warps_per_row=*/1, /*rows_per_warp=*/2);
}

cudaError_t Gemv(const void* w, DType w_dtype, const float* x, int64_t n, int64_t k, float* y,
                 cudaStream_t stream) {
  const GemvMatrix matrix{.w = w, .rows = n, .y = y};
  return GemvFused({&matrix, 1}, w_dtype, x, k, GemvNorm{}, stream);
}

cudaError_t GemvSwiGlu(const void* gate, const void* up, DType w_dtype, const float* x, int64_t n,
                       int64_t k, const GemvNorm& norm, float* y, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n >= 0 && k > 0 && NormFits(x, norm, k));
  if (n == 0) return cudaSuccess;
  const bool vectorized =
      k % ValuesPerLoad(w_dtype) == 0 && Aligned16(gate) && Aligned16(up) && Aligned16(x);
  constexpr int kStagedOutputs = kSwiGluOutputsPerWarp<RowLoads::kStaged>;
  return DispatchGemv(w_dtype, /*warps_per_row=*/1, /*rows_per_warp=*/2, vectorized,
                      /*staged_rows_per_warp=*/2 * kStagedOutputs, x, norm, k, stream,
                      [&](auto tag, auto, auto loads, auto input) {
                        using W = typename decltype(tag)::type;
                        constexpr RowLoads kLoads = decltype(loads)::value;
                        return MakeGemvLaunch(
                            GemvSwiGluKernel<W, kLoads, decltype(input)>,
                            BlocksFor(n, kWarpsPerBlock * kSwiGluOutputsPerWarp<kLoads>),
                            static_cast<const W*>(gate), static_cast<const W*>(up), input, n, k,
                            vectorized, y);
                      });
}

}  // namespace tessera::cuda
