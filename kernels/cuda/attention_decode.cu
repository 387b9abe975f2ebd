// First pass, one block of kWarps warps per (kv head, chunk of positions): every query
// head of the kv head's group is handled by the same block, so each K and V row is read from
// memory once for the whole group. Each warp keeps its own running (online) softmax over the
// positions it takes, kInFlight at a time: it issues the K and V loads of all of them (16-byte
// loads, lane holding 4 consecutive dims) before the first use, so many bytes are in flight per
// SM; then per position the group's dot products are reduced across the warp and folded into the
// running max, sum and output held in registers. The queries sit in registers too, sized by the
// group and head_dim at compile time. At the end the block's warps merge through shared memory.
// Second pass, one block per query head: the block finds the global max and sum over the chunks,
// each warp rescales a share of the chunks' partial results to the global max, and the warps'
// sums are added and normalized by the global sum.
// Scores are kept in log2 units (scale * log2(e) folded into the queries) so exp is one exp2.
#include "kernels/cuda/attention_decode.h"

#include <algorithm>
#include <cmath>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/grid_dependency.cuh"

namespace tessera::cuda {
namespace {

constexpr int kWarps = 4;
// Blocks per SM the registers must allow: four (128 registers a thread) for groups of 1 and 2,
// three for groups of 4 and two for 8, which need more for their queries and outputs (fewer
// would spill).
template <int kGroup>
constexpr int kBlocksPerSm = kGroup <= 2 ? 4 : kGroup == 4 ? 3 : 2;
constexpr int kMaxGroup = 8;  // query heads per kv head
constexpr int kMaxHeadDim = 256;
constexpr int kMergeWarps = 8;
constexpr float kLog2E = 1.4426950408889634f;

// Where the first pass leaves chunk s of query head h.
struct Partials {
  float* out;  // [n_heads, n_splits, head_dim]: sum_p 2^(score_p - max) v_p
  float* max;  // [n_heads, n_splits], log2 units
  float* sum;  // [n_heads, n_splits]: sum_p 2^(score_p - max)
};

Partials PartialsIn(void* workspace, const AttentionShape& shape, int64_t n_splits) {
  float* base = static_cast<float*>(workspace);
  const int64_t n_partials = shape.n_heads * n_splits;
  return {base, base + n_partials * shape.head_dim,
          base + n_partials * shape.head_dim + n_partials};
}

// About four blocks per SM of an H100 in one wave: enough loads in flight to saturate memory,
// and long enough chunks that a block's setup and merge are a small part of its time.
constexpr int64_t kTargetBlocks = 512;

// Cache positions the query sees: the last sliding_window of kv_len, or all of them.
__host__ __device__ int64_t VisibleLength(const AttentionShape& shape, int64_t kv_len) {
  return shape.sliding_window > 0 && shape.sliding_window < kv_len ? shape.sliding_window
                                                                   : kv_len;
}

__host__ __device__ int64_t MaxSplits(const AttentionShape& shape) {
  const int64_t splits = kTargetBlocks / shape.n_kv_heads;
  return splits > 1 ? splits : 1;
}

// Cache positions one block reads: a multiple of kKvChunk, as few as give kTargetBlocks blocks.
__host__ __device__ int64_t ChunkFor(const AttentionShape& shape, int64_t visible_len) {
  const int64_t max_splits = MaxSplits(shape);
  const int64_t granules = (visible_len + kKvChunk - 1) / kKvChunk;
  return kKvChunk * ((granules + max_splits - 1) / max_splits);
}

__host__ __device__ int64_t SplitsFor(const AttentionShape& shape, int64_t visible_len) {
  const int64_t chunk = ChunkFor(shape, visible_len);
  return (visible_len + chunk - 1) / chunk;
}

// Splits a launch provides for: enough for every length up to max_kv_len (SplitsFor is not
// monotonic: where the chunk doubles, the splits halve).
int64_t LaunchSplits(const AttentionShape& shape, int64_t max_kv_len) {
  const int64_t granules = (VisibleLength(shape, max_kv_len) + kKvChunk - 1) / kKvChunk;
  return std::min(granules, MaxSplits(shape));
}

// Every thread gets the block's maximum (the max counterpart of BlockSum).
__device__ __forceinline__ float BlockMax(float value) {
  __shared__ float warp_maxima[32];
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  }
  if (lane == 0) warp_maxima[warp] = value;
  __syncthreads();
  value = lane < static_cast<int>(blockDim.x / 32) ? warp_maxima[lane] : -INFINITY;
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  }
  return value;
}

__device__ __forceinline__ float Dot4(float4 a, float4 b) {
  return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}

__device__ __forceinline__ void ScaleAdd(float4& acc, float scale, float weight, float4 v) {
  acc.x = acc.x * scale + weight * v.x;
  acc.y = acc.y * scale + weight * v.y;
  acc.z = acc.z * scale + weight * v.z;
  acc.w = acc.w * scale + weight * v.w;
}

// Replaces each v[j] by its sum over the warp's lanes. Rather than N separate warp sums (5
// shuffles each), the values are halved round by round: in the round of offset o the lanes with
// bit o set keep the upper half and their partners the lower, each adding what the other sends,
// so after log2(N) rounds a lane holds one value's partial sum (value lane / (32 / N)); five
// rounds in all finish the sums and N shuffles hand each total to every lane: 2N + 5 - log2(N)
// shuffles instead of 5N.
template <int N>
__device__ __forceinline__ void WarpSumEach(float (&v)[N], int lane) {
  static_assert(N >= 1 && N <= 32 && (N & (N - 1)) == 0);
  int offset = 16;
#pragma unroll
  for (int n = N; n > 1; n /= 2, offset /= 2) {
    const bool upper = (lane & offset) != 0;
#pragma unroll
    for (int i = 0; i < n / 2; ++i) {
      const float send = upper ? v[i] : v[i + n / 2];
      const float keep = upper ? v[i + n / 2] : v[i];
      v[i] = keep + __shfl_xor_sync(0xffffffffu, send, offset);
    }
  }
  float total = v[0];
  for (; offset > 0; offset /= 2) total += __shfl_xor_sync(0xffffffffu, total, offset);
#pragma unroll
  for (int j = 0; j < N; ++j) v[j] = __shfl_sync(0xffffffffu, total, j * (32 / N));
}

// kGroup: the group size rounded up to a power of two; kVecs: float4 per lane, head_dim <= 128
// kVecs. Wide heads load fewer positions at a time to stay within the registers.
template <int kGroup, int kVecs>
__global__ void __launch_bounds__(kWarps * 32, kBlocksPerSm<kGroup>)
    AttentionDecodeChunkKernel(const float* q, const KvCacheView* cache, AttentionShape shape,
                               float scale_log2, Partials partials) {
  constexpr int kInFlight = 8 / kVecs;  // cache positions a warp loads before using them
  __shared__ float warp_max[kWarps][kGroup];
  __shared__ float warp_sum[kWarps][kGroup];
  extern __shared__ float4 warp_out_vecs[];
  float* warp_out = reinterpret_cast<float*>(warp_out_vecs);  // [kWarps, kGroup, head_dim]

  WaitForPrecedingKernels();
  // The launch covers the longest context it may see; blocks past this one's chunks have none.
  const int64_t kv_len = cache->length;
  const int64_t visible_len = VisibleLength(shape, kv_len);
  const int64_t chunk = ChunkFor(shape, visible_len);
  const int64_t split = blockIdx.y;
  if (split * chunk >= visible_len) return;
  const int kv_head = blockIdx.x;
  const int64_t launch_splits = gridDim.y;  // the partials' stride
  const int n_kv_heads = shape.n_kv_heads;
  const int group = shape.n_heads / n_kv_heads;
  const int head_dim = shape.head_dim;
  // Positions before the window are never read.
  const int64_t first = kv_len - visible_len + split * chunk;
  const int64_t chunk_len = kv_len - first < chunk ? kv_len - first : chunk;
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int64_t kv_row = static_cast<int64_t>(n_kv_heads) * head_dim;  // one cache position
  const float* k_head = cache->keys + first * kv_row + kv_head * head_dim;
  const float* v_head = cache->values + first * kv_row + kv_head * head_dim;

  // The group's queries, pre-scaled: lane holds dims [4 lane + 128 v, +4).
  float4 q_lane[kGroup][kVecs] = {};
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
#pragma unroll
    for (int v = 0; v < kVecs; ++v) {
      const int d = 4 * lane + 128 * v;
      if (g < group && d < head_dim) {
        const float4 value =
            *reinterpret_cast<const float4*>(q + (kv_head * group + g) * head_dim + d);
        q_lane[g][v] = {value.x * scale_log2, value.y * scale_log2, value.z * scale_log2,
                        value.w * scale_log2};
      }
    }
  }

  float run_max[kGroup];
  float run_sum[kGroup] = {};
  float4 out_lane[kGroup][kVecs] = {};
#pragma unroll
  for (int g = 0; g < kGroup; ++g) run_max[g] = -INFINITY;

  for (int64_t p0 = warp * kInFlight; p0 < chunk_len; p0 += kWarps * kInFlight) {
    float4 k_lane[kInFlight][kVecs] = {};
    float4 v_lane[kInFlight][kVecs] = {};
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
#pragma unroll
      for (int v = 0; v < kVecs; ++v) {
        const int d = 4 * lane + 128 * v;
        if (p0 + j < chunk_len && d < head_dim) {
          k_lane[j][v] = *reinterpret_cast<const float4*>(k_head + (p0 + j) * kv_row + d);
          v_lane[j][v] = *reinterpret_cast<const float4*>(v_head + (p0 + j) * kv_row + d);
        }
      }
    }
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      if (g >= group) continue;
      float score[kInFlight];
#pragma unroll
      for (int j = 0; j < kInFlight; ++j) {
        score[j] = 0.0f;
#pragma unroll
        for (int v = 0; v < kVecs; ++v) score[j] += Dot4(q_lane[g][v], k_lane[j][v]);
      }
      WarpSumEach(score, lane);
      float tile_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < kInFlight; ++j) {
        if (p0 + j >= chunk_len) score[j] = -INFINITY;
        tile_max = fmaxf(tile_max, score[j]);
      }
      // Finite: position p0 is in the chunk.
      const float new_max = fmaxf(run_max[g], tile_max);
      float rescale = exp2f(run_max[g] - new_max);
      run_max[g] = new_max;
#pragma unroll
      for (int j = 0; j < kInFlight; ++j) {
        const float weight = exp2f(score[j] - new_max);
        run_sum[g] = run_sum[g] * rescale + weight;
#pragma unroll
        for (int v = 0; v < kVecs; ++v) ScaleAdd(out_lane[g][v], rescale, weight, v_lane[j][v]);
        rescale = 1.0f;
      }
    }
  }

  // Merge the warps: a warp that took no position has max -inf and weight 0.
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
    if (lane == 0) {
      warp_max[warp][g] = run_max[g];
      warp_sum[warp][g] = run_sum[g];
    }
#pragma unroll
    for (int v = 0; v < kVecs; ++v) {
      const int d = 4 * lane + 128 * v;
      if (d < head_dim) {
        *reinterpret_cast<float4*>(warp_out + (warp * kGroup + g) * head_dim + d) = out_lane[g][v];
      }
    }
  }
  __syncthreads();

  for (int i = threadIdx.x; i < group * head_dim; i += blockDim.x) {
    const int g = i / head_dim;
    const int d = i % head_dim;
    float block_max = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) block_max = fmaxf(block_max, warp_max[w][g]);
    float total = 0.0f;
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float weight = exp2f(warp_max[w][g] - block_max);
      total += weight * warp_out[(w * kGroup + g) * head_dim + d];
      sum += weight * warp_sum[w][g];
    }
    const int64_t partial = (kv_head * group + g) * launch_splits + split;
    partials.out[partial * head_dim + d] = total;
    if (d == 0) {
      partials.max[partial] = block_max;
      partials.sum[partial] = sum;
    }
  }
}

// Dynamic shared memory: per-warp sums [kMergeWarps, head_dim].
__global__ void __launch_bounds__(kMergeWarps * 32)
    AttentionDecodeMergeKernel(Partials partials, const KvCacheView* cache, AttentionShape shape,
                               int64_t launch_splits, float* out) {
  extern __shared__ float4 warp_out_vecs[];
  float* warp_out = reinterpret_cast<float*>(warp_out_vecs);  // [kMergeWarps, head_dim]
  const int head_dim = shape.head_dim;
  WaitForPrecedingKernels();
  const int64_t n_splits = SplitsFor(shape, VisibleLength(shape, cache->length));
  const int head = blockIdx.x;
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const float* max = partials.max + head * launch_splits;                  // [n_splits]
  const float* sum = partials.sum + head * launch_splits;                  // [n_splits]
  const float* head_out = partials.out + head * launch_splits * head_dim;  // [n_splits, head_dim]
  // The global max and sum, each split read by one thread.
  float local_max = -INFINITY;
  for (int64_t s = threadIdx.x; s < n_splits; s += blockDim.x) local_max = fmaxf(local_max, max[s]);
  const float global_max = BlockMax(local_max);
  float local_sum = 0.0f;
  for (int64_t s = threadIdx.x; s < n_splits; s += blockDim.x) {
    local_sum += exp2f(max[s] - global_max) * sum[s];
  }
  const float global_sum = BlockSum(local_sum);

  float4 acc[kMaxHeadDim / 128] = {};
#pragma unroll 4
  for (int64_t s = warp; s < n_splits; s += kMergeWarps) {
    const float weight = exp2f(max[s] - global_max);
#pragma unroll
    for (int v = 0; v < kMaxHeadDim / 128; ++v) {
      const int d = 4 * lane + 128 * v;
      if (d < head_dim) {
        ScaleAdd(acc[v], 1.0f, weight,
                 *reinterpret_cast<const float4*>(head_out + s * head_dim + d));
      }
    }
  }
#pragma unroll
  for (int v = 0; v < kMaxHeadDim / 128; ++v) {
    const int d = 4 * lane + 128 * v;
    if (d < head_dim) *reinterpret_cast<float4*>(warp_out + warp * head_dim + d) = acc[v];
  }
  __syncthreads();

  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float value = 0.0f;
#pragma unroll
    for (int w = 0; w < kMergeWarps; ++w) value += warp_out[w * head_dim + d];
    out[head * head_dim + d] = value / global_sum;
  }
}

template <int kGroup, int kVecs>
cudaError_t LaunchChunks(const float* q, const KvCacheView* cache, const AttentionShape& shape,
                         int64_t launch_splits, const Partials& partials, cudaStream_t stream) {
  const size_t shared_bytes = kWarps * kGroup * shape.head_dim * sizeof(float);
  const dim3 grid(shape.n_kv_heads, static_cast<unsigned>(launch_splits));
  AttentionDecodeChunkKernel<kGroup, kVecs><<<grid, kWarps * 32, shared_bytes, stream>>>(
      q, cache, shape, shape.scale * kLog2E, partials);
  return cudaGetLastError();
}

template <int kVecs>
cudaError_t LaunchChunksForGroup(const float* q, const KvCacheView* cache,
                                 const AttentionShape& shape, int64_t launch_splits,
                                 const Partials& partials, cudaStream_t stream) {
  const int group = shape.n_heads / shape.n_kv_heads;
  if (group == 1) return LaunchChunks<1, kVecs>(q, cache, shape, launch_splits, partials, stream);
  if (group == 2) return LaunchChunks<2, kVecs>(q, cache, shape, launch_splits, partials, stream);
  if (group <= 4) return LaunchChunks<4, kVecs>(q, cache, shape, launch_splits, partials, stream);
  return LaunchChunks<8, kVecs>(q, cache, shape, launch_splits, partials, stream);
}

}  // namespace

size_t AttentionDecodeWorkspaceBytes(const AttentionShape& shape, int64_t max_kv_len) {
  const int64_t n_partials = shape.n_heads * LaunchSplits(shape, max_kv_len);
  return static_cast<size_t>(n_partials) * (shape.head_dim + 2) * sizeof(float);
}

cudaError_t AttentionDecode(const float* q, const KvCacheView* cache, int64_t max_kv_len,
                            const AttentionShape& shape, void* workspace, size_t workspace_bytes,
                            float* out, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(max_kv_len >= 1 && shape.n_kv_heads > 0 && shape.n_heads > 0);
  TESSERA_CUDA_CHECK_ARG(shape.n_heads % shape.n_kv_heads == 0);
  TESSERA_CUDA_CHECK_ARG(shape.n_heads / shape.n_kv_heads <= kMaxGroup);
  TESSERA_CUDA_CHECK_ARG(shape.head_dim > 0 && shape.head_dim % 4 == 0 &&
                         shape.head_dim <= kMaxHeadDim);
  TESSERA_CUDA_CHECK_ARG(shape.sliding_window >= 0);
  TESSERA_CUDA_CHECK_ARG(workspace_bytes >= AttentionDecodeWorkspaceBytes(shape, max_kv_len));
  const int64_t launch_splits = LaunchSplits(shape, max_kv_len);  // at most kTargetBlocks
  const Partials partials = PartialsIn(workspace, shape, launch_splits);
  TESSERA_CUDA_RETURN_IF_ERROR(
      shape.head_dim <= 128
          ? LaunchChunksForGroup<1>(q, cache, shape, launch_splits, partials, stream)
          : LaunchChunksForGroup<2>(q, cache, shape, launch_splits, partials, stream));
  AttentionDecodeMergeKernel<<<shape.n_heads, kMergeWarps * 32,
                               kMergeWarps * shape.head_dim * sizeof(float), stream>>>(
      partials, cache, shape, launch_splits, out);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
