// First pass, one block of kWarps warps per (kv head, chunk): every query head of the kv head's
// group is handled by the same block, so each K and V row is read from memory once for the whole
// group. A warp takes kInFlight cache positions at a time, each lane holding 4 consecutive dims
// of each (two float4 for head_dim up to 256), with the group's queries in registers:
//   scores: per position, the group's dot products, reduced across the warp, into shared memory;
//   softmax: the chunk's max and sum of exponentials per query head;
//   values: per position, weights times the V row accumulated in registers, then summed across
//   warps through shared memory.
// Second pass, one block per query head: rescales each chunk's partial result to the global max
// and normalizes by the global sum.
#include "kernels/cuda/attention_decode.h"

#include <cmath>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"

namespace tessera::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kInFlight = 4;  // cache positions a warp loads before using them
constexpr int kMaxGroup = 8;     // query heads per kv head
constexpr int kVecsPerLane = 2;  // float4 per lane: head_dim <= 2 * 32 * 4
constexpr int kMaxHeadDim = kVecsPerLane * 32 * 4;

// Where the first pass leaves chunk s of query head h.
struct Partials {
  float* out;  // [n_heads, n_splits, head_dim]: sum_p exp(score_p - max) v_p
  float* max;  // [n_heads, n_splits]
  float* sum;  // [n_heads, n_splits]: sum_p exp(score_p - max)
};

Partials PartialsIn(void* workspace, const AttentionShape& shape, int64_t n_splits) {
  float* base = static_cast<float*>(workspace);
  const int64_t n_partials = shape.n_heads * n_splits;
  return {base, base + n_partials * shape.head_dim,
          base + n_partials * shape.head_dim + n_partials};
}

int64_t SplitsFor(int64_t kv_len) { return (kv_len + kKvChunk - 1) / kKvChunk; }

__device__ __forceinline__ float WarpMax(float value) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  }
  return value;
}

__device__ __forceinline__ float Dot4(float4 a, float4 b) {
  return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}

// Dynamic shared memory: scores [kKvChunk, kMaxGroup], then per-warp sums
// [kWarps, group, head_dim].
__global__ void __launch_bounds__(kWarps * 32)
    AttentionDecodeChunkKernel(const float* q, const float* k_cache, const float* v_cache,
                               int64_t kv_len, int n_kv_heads, int group, int head_dim,
                               float scale, Partials partials) {
  extern __shared__ float shared[];
  float* scores = shared;                          // [kKvChunk, kMaxGroup]
  float* warp_out = shared + kKvChunk * kMaxGroup;  // [kWarps, group, head_dim]

  const int kv_head = blockIdx.x;
  const int64_t split = blockIdx.y;
  const int64_t n_splits = gridDim.y;
  const int64_t first = split * kKvChunk;
  const int chunk_len = static_cast<int>(kv_len - first < kKvChunk ? kv_len - first : kKvChunk);
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int64_t kv_row = static_cast<int64_t>(n_kv_heads) * head_dim;  // one cache position
  const float* k_head = k_cache + first * kv_row + kv_head * head_dim;
  const float* v_head = v_cache + first * kv_row + kv_head * head_dim;

  // The group's queries, pre-scaled: lane holds dims [4 lane + 128 v, +4).
  float4 q_lane[kMaxGroup][kVecsPerLane] = {};
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g) {
#pragma unroll
    for (int v = 0; v < kVecsPerLane; ++v) {
      const int d = 4 * lane + 128 * v;
      if (g < group && d < head_dim) {
        float4 value =
            *reinterpret_cast<const float4*>(q + (kv_head * group + g) * head_dim + d);
        q_lane[g][v] = {value.x * scale, value.y * scale, value.z * scale, value.w * scale};
      }
    }
  }

  // Each warp takes kInFlight consecutive positions per sweep and issues all their loads before
  // the first reduction, so memory latency is paid once per sweep rather than once per position.
  for (int p0 = warp * kInFlight; p0 < chunk_len; p0 += kWarps * kInFlight) {
    float4 k_lane[kInFlight][kVecsPerLane] = {};
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
#pragma unroll
      for (int v = 0; v < kVecsPerLane; ++v) {
        const int d = 4 * lane + 128 * v;
        if (p0 + j < chunk_len && d < head_dim) {
          k_lane[j][v] = *reinterpret_cast<const float4*>(k_head + (p0 + j) * kv_row + d);
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g) {
        if (g < group && p0 + j < chunk_len) {
          float partial = 0.0f;
#pragma unroll
          for (int v = 0; v < kVecsPerLane; ++v) partial += Dot4(q_lane[g][v], k_lane[j][v]);
          partial = WarpSum(partial);
          if (lane == 0) scores[(p0 + j) * kMaxGroup + g] = partial;
        }
      }
    }
  }
  __syncthreads();

  // Softmax numerators; warp w owns query heads w, w + kWarps, ...
  for (int g = warp; g < group; g += kWarps) {
    float max_score = -INFINITY;
    for (int p = lane; p < chunk_len; p += 32) {
      max_score = fmaxf(max_score, scores[p * kMaxGroup + g]);
    }
    max_score = WarpMax(max_score);
    float sum = 0.0f;
    for (int p = lane; p < chunk_len; p += 32) {
      const float weight = expf(scores[p * kMaxGroup + g] - max_score);
      scores[p * kMaxGroup + g] = weight;
      sum += weight;
    }
    sum = WarpSum(sum);
    if (lane == 0) {
      const int64_t partial = (kv_head * group + g) * n_splits + split;
      partials.max[partial] = max_score;
      partials.sum[partial] = sum;
    }
  }
  __syncthreads();

  float4 out_lane[kMaxGroup][kVecsPerLane] = {};
  for (int p0 = warp * kInFlight; p0 < chunk_len; p0 += kWarps * kInFlight) {
    float4 v_lane[kInFlight][kVecsPerLane] = {};
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
#pragma unroll
      for (int v = 0; v < kVecsPerLane; ++v) {
        const int d = 4 * lane + 128 * v;
        if (p0 + j < chunk_len && d < head_dim) {
          v_lane[j][v] = *reinterpret_cast<const float4*>(v_head + (p0 + j) * kv_row + d);
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g) {
        // Positions past the chunk were loaded as zeros and get weight 0.
        const bool valid = g < group && p0 + j < chunk_len;
        const float weight = valid ? scores[(p0 + j) * kMaxGroup + g] : 0.0f;
#pragma unroll
        for (int v = 0; v < kVecsPerLane; ++v) {
          out_lane[g][v].x += weight * v_lane[j][v].x;
          out_lane[g][v].y += weight * v_lane[j][v].y;
          out_lane[g][v].z += weight * v_lane[j][v].z;
          out_lane[g][v].w += weight * v_lane[j][v].w;
        }
      }
    }
  }
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g) {
#pragma unroll
    for (int v = 0; v < kVecsPerLane; ++v) {
      const int d = 4 * lane + 128 * v;
      if (g < group && d < head_dim) {
        *reinterpret_cast<float4*>(warp_out + (warp * group + g) * head_dim + d) = out_lane[g][v];
      }
    }
  }
  __syncthreads();

  for (int i = threadIdx.x; i < group * head_dim; i += blockDim.x) {
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total += warp_out[w * group * head_dim + i];
    const int g = i / head_dim;
    const int d = i % head_dim;
    partials.out[((kv_head * group + g) * n_splits + split) * head_dim + d] = total;
  }
}

__global__ void AttentionDecodeMergeKernel(Partials partials, int64_t n_splits, int head_dim,
                                           float* out) {
  const int head = blockIdx.x;
  const float* max = partials.max + head * n_splits;  // [n_splits]
  const float* sum = partials.sum + head * n_splits;  // [n_splits]
  float global_max = -INFINITY;
  for (int64_t s = 0; s < n_splits; ++s) global_max = fmaxf(global_max, max[s]);
  float global_sum = 0.0f;
  for (int64_t s = 0; s < n_splits; ++s) global_sum += expf(max[s] - global_max) * sum[s];
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float value = 0.0f;
    for (int64_t s = 0; s < n_splits; ++s) {
      value += expf(max[s] - global_max) * partials.out[(head * n_splits + s) * head_dim + d];
    }
    out[head * head_dim + d] = value / global_sum;
  }
}

}  // namespace

size_t AttentionDecodeWorkspaceBytes(const AttentionShape& shape, int64_t max_kv_len) {
  const int64_t n_partials = shape.n_heads * SplitsFor(max_kv_len);
  return static_cast<size_t>(n_partials) * (shape.head_dim + 2) * sizeof(float);
}

cudaError_t AttentionDecode(const float* q, const float* k_cache, const float* v_cache,
                            int64_t kv_len, const AttentionShape& shape, void* workspace,
                            size_t workspace_bytes, float* out, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(kv_len >= 1 && shape.n_kv_heads > 0 && shape.n_heads > 0);
  TESSERA_CUDA_CHECK_ARG(shape.n_heads % shape.n_kv_heads == 0);
  const int group = shape.n_heads / shape.n_kv_heads;
  TESSERA_CUDA_CHECK_ARG(group <= kMaxGroup);
  TESSERA_CUDA_CHECK_ARG(shape.head_dim > 0 && shape.head_dim % 4 == 0 &&
                         shape.head_dim <= kMaxHeadDim);
  TESSERA_CUDA_CHECK_ARG(workspace_bytes >= AttentionDecodeWorkspaceBytes(shape, kv_len));
  const int64_t n_splits = SplitsFor(kv_len);
  TESSERA_CUDA_CHECK_ARG(n_splits <= 65535);  // grid y limit: kv_len up to 8M positions
  const Partials partials = PartialsIn(workspace, shape, n_splits);

  const size_t shared_bytes =
      (kKvChunk * kMaxGroup + kWarps * group * shape.head_dim) * sizeof(float);
  // Large groups of wide heads need more than the 48 KB a block gets without opting in.
  if (shared_bytes > 48 * 1024) {
    TESSERA_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(AttentionDecodeChunkKernel,
                                                      cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                      static_cast<int>(shared_bytes)));
  }
  const dim3 grid(shape.n_kv_heads, static_cast<unsigned>(n_splits));
  AttentionDecodeChunkKernel<<<grid, kWarps * 32, shared_bytes, stream>>>(
      q, k_cache, v_cache, kv_len, shape.n_kv_heads, group, shape.head_dim, shape.scale,
      partials);
  TESSERA_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  AttentionDecodeMergeKernel<<<shape.n_heads, 128, 0, stream>>>(partials, n_splits,
                                                                shape.head_dim, out);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
