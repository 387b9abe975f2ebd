// One block per token. The token's angles are computed once into shared memory (sincosf in full
// precision, because angles reach thousands of radians at long positions and the fast intrinsic
// loses accuracy there) and applied to that pair in every head; each thread owns whole pairs, so q
// can rotate in place without a race. The keys' rotated pairs, their unrotated tail and the values
// go straight to the pool row that the view's block table gives the token's position, rounded to
// the cache's type. Each loop loads a batch of a thread's elements before it stores any
// (batched_loads.cuh): one element at a time, 64 tokens of Llama-3-8B took 10 us.
#include "kernels/cuda/rope.h"

#include "kernels/cuda/batched_loads.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"
#include "kernels/cuda/grid_dependency.cuh"

namespace tessera::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxPairs = 128;  // head_dim <= 256

struct RopePairs {
  int n_pairs;
  bool adjacent;  // pair i is dims (2i, 2i + 1), else (i, i + n_pairs)
  __device__ int first(int pair) const { return adjacent ? 2 * pair : pair; }
  __device__ int second(int pair) const { return adjacent ? 2 * pair + 1 : pair + n_pairs; }
};

// The rotated pairs of n_heads heads of src into the same places of dst (which may be src), and
// each head's dims past the rotated ones unchanged, rounded to dst's type; angles (cos, sin) per
// pair, scaled.
template <typename D>
__device__ __forceinline__ void RotateHeads(const float* src, D* dst, int n_heads, int head_dim,
                                            RopePairs pairs, const float* cos_angle,
                                            const float* sin_angle) {
  const int n_pairs = pairs.n_pairs;
  InBatches(
      n_heads * n_pairs,
      [&](int i, float& a, float& b) {
        const float* head = src + (i / n_pairs) * head_dim;
        a = head[pairs.first(i % n_pairs)];
        b = head[pairs.second(i % n_pairs)];
      },
      [&](int i, float a, float b) {
        D* head = dst + (i / n_pairs) * head_dim;
        const int p = i % n_pairs;
        FromFloat(a * cos_angle[p] - b * sin_angle[p], head + pairs.first(p));
        FromFloat(a * sin_angle[p] + b * cos_angle[p], head + pairs.second(p));
      });
  const int tail = head_dim - 2 * n_pairs;
  for (int i = threadIdx.x; i < n_heads * tail; i += blockDim.x) {
    const int64_t d = (i / tail) * head_dim + 2 * n_pairs + i % tail;
    FromFloat(src[d], dst + d);
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    RopeAndStoreKvKernel(ProjectedRows rows, float* q_out, const int32_t* positions, int n_heads,
                         int n_kv_heads, int head_dim, RopePairs pairs, const float* inv_freq,
                         float scale, const KvCacheView* cache, const int32_t* token_views) {
  __shared__ float cos_angle[kMaxPairs];
  __shared__ float sin_angle[kMaxPairs];
  const int64_t token = blockIdx.x;
  WaitForPrecedingKernels();
  const int32_t position = positions[token];
  if (token_views != nullptr) cache += token_views[token];
  const int n_pairs = pairs.n_pairs;
  for (int p = threadIdx.x; p < n_pairs; p += blockDim.x) {
    float s, c;
    sincosf(static_cast<float>(position) * inv_freq[p], &s, &c);
    cos_angle[p] = c * scale;
    sin_angle[p] = s * scale;
  }
  __syncthreads();

  const float* token_q = rows.q + token * rows.q_stride;  // [n_heads, head_dim]
  RotateHeads(token_q, q_out + token * n_heads * head_dim, n_heads, head_dim, pairs, cos_angle,
              sin_angle);

  const int64_t kv_dim = static_cast<int64_t>(n_kv_heads) * head_dim;
  const float* token_k = rows.k + token * rows.kv_stride;  // [n_kv_heads, head_dim]
  const float* token_v = rows.v + token * rows.kv_stride;
  const int64_t row = KvRow(cache->block_table, position);
  T* k_row = static_cast<T*>(cache->keys) + row * kv_dim;
  T* v_row = static_cast<T*>(cache->values) + row * kv_dim;
  RotateHeads(token_k, k_row, n_kv_heads, head_dim, pairs, cos_angle, sin_angle);
  InBatches(
      static_cast<int>(kv_dim), [&](int i, float& a, float&) { a = token_v[i]; },
      [&](int i, float a, float) { FromFloat(a, v_row + i); });
}

}  // namespace

cudaError_t RopeAndStoreKv(const ProjectedRows& rows, float* q_out, const int32_t* positions,
                           int64_t n_tokens, int n_heads, int n_kv_heads, int head_dim,
                           int rotary_dim, const float* inv_freq, RopeStyle style, float scale,
                           const KvCacheView* cache, const int32_t* token_views, DType cache_dtype,
                           cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n_tokens >= 0 && n_heads > 0 && n_kv_heads > 0);
  // In place only where q's rows are packed: else one token's q_out row overlaps the next one's q.
  TESSERA_CUDA_CHECK_ARG(q_out != rows.q || rows.q_stride == int64_t{n_heads} * head_dim);
  TESSERA_CUDA_CHECK_ARG(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= head_dim &&
                         rotary_dim / 2 <= kMaxPairs);
  if (n_tokens == 0) return cudaSuccess;
  const RopePairs pairs{rotary_dim / 2, style == RopeStyle::kAdjacentPairs};
  return DispatchDType(cache_dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    RopeAndStoreKvKernel<T><<<static_cast<unsigned>(n_tokens), kThreads, 0, stream>>>(
        rows, q_out, positions, n_heads, n_kv_heads, head_dim, pairs, inv_freq, scale, cache,
        token_views);
    return cudaGetLastError();
  });
}

}  // namespace tessera::cuda
