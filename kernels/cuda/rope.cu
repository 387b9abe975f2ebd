// One thread per (token, pair): the angle's sine and cosine are computed once and applied to that
// pair in every head of the token. sincosf is the full-precision version, because angles reach
// thousands of radians at long positions and the fast intrinsic loses accuracy there.
#include "kernels/cuda/rope.h"

#include "kernels/cuda/cuda_check.h"

namespace tessera::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void RopeKernel(float* x, const int32_t* positions, int64_t n_tokens, int n_heads,
                           int head_dim, int n_pairs, const float* inv_freq, bool adjacent,
                           float scale) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= n_tokens * n_pairs) return;
  const int64_t token = index / n_pairs;
  const int pair = static_cast<int>(index % n_pairs);
  float sin_angle, cos_angle;
  sincosf(static_cast<float>(positions[token]) * inv_freq[pair], &sin_angle, &cos_angle);
  sin_angle *= scale;
  cos_angle *= scale;
  const int first = adjacent ? 2 * pair : pair;
  const int second = adjacent ? 2 * pair + 1 : pair + n_pairs;
  float* token_x = x + token * n_heads * head_dim;  // [n_heads, head_dim]
  for (int h = 0; h < n_heads; ++h) {
    float* head = token_x + h * head_dim;  // [head_dim]
    const float a = head[first];
    const float b = head[second];
    head[first] = a * cos_angle - b * sin_angle;
    head[second] = a * sin_angle + b * cos_angle;
  }
}

}  // namespace

cudaError_t Rope(float* x, const int32_t* positions, int64_t n_tokens, int n_heads, int head_dim,
                 int rotary_dim, const float* inv_freq, RopeStyle style, float scale,
                 cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n_tokens >= 0 && n_heads > 0);
  TESSERA_CUDA_CHECK_ARG(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= head_dim);
  const int n_pairs = rotary_dim / 2;
  if (n_tokens == 0) return cudaSuccess;
  RopeKernel<<<BlocksFor(n_tokens * n_pairs, kThreads), kThreads, 0, stream>>>(
      x, positions, n_tokens, n_heads, head_dim, n_pairs, inv_freq,
      style == RopeStyle::kAdjacentPairs, scale);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
