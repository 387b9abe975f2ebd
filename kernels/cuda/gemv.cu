// One warp per weight row. On the vectorized path each lane reads 16 bytes (8 weights) per load,
// so a warp reads 512 contiguous bytes per instruction, and keeps four such loads in flight before
// using them; with 8 rows per block and thousands of rows there are enough bytes in flight to
// cover the memory latency. x is small and shared by every row: it is read through the
// read-only cache. Each lane's partial sums are combined with warp shuffles.
#include "kernels/cuda/gemv.h"

#include <cstdint>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"

namespace tessera::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kLoadsInFlight = 4;

__device__ __forceinline__ float2 ToFloat2(uint32_t packed, __half) {
  return __half22float2(*reinterpret_cast<const __half2*>(&packed));
}
__device__ __forceinline__ float2 ToFloat2(uint32_t packed, __nv_bfloat16) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&packed));
}

// Dot product of 8 packed weights with x[0..8).
template <typename W>
__device__ __forceinline__ float Dot8(uint4 weights, const float* x) {
  const float4 x_low = __ldg(reinterpret_cast<const float4*>(x));
  const float4 x_high = __ldg(reinterpret_cast<const float4*>(x) + 1);
  const float2 w01 = ToFloat2(weights.x, W{});
  const float2 w23 = ToFloat2(weights.y, W{});
  const float2 w45 = ToFloat2(weights.z, W{});
  const float2 w67 = ToFloat2(weights.w, W{});
  return w01.x * x_low.x + w01.y * x_low.y + w23.x * x_low.z + w23.y * x_low.w +
         w45.x * x_high.x + w45.y * x_high.y + w67.x * x_high.z + w67.y * x_high.w;
}

template <typename W>
__global__ void GemvKernel(const W* w, const float* x, int64_t n, int64_t k, bool vectorized,
                           float* y) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  const W* w_row = w + row * k;  // [k]
  float sum = 0.0f;
  if (vectorized) {
    const uint4* chunks = reinterpret_cast<const uint4*>(w_row);  // [k / 8] of 8 weights
    const int64_t n_chunks = k / 8;
    int64_t c = lane;
    for (; c + (kLoadsInFlight - 1) * 32 < n_chunks; c += kLoadsInFlight * 32) {
      uint4 loaded[kLoadsInFlight];
#pragma unroll
      for (int i = 0; i < kLoadsInFlight; ++i) loaded[i] = __ldg(chunks + c + i * 32);
#pragma unroll
      for (int i = 0; i < kLoadsInFlight; ++i) sum += Dot8<W>(loaded[i], x + (c + i * 32) * 8);
    }
    for (; c < n_chunks; c += 32) sum += Dot8<W>(__ldg(chunks + c), x + c * 8);
  } else {
    for (int64_t c = lane; c < k; c += 32) sum += ToFloat(w_row[c]) * x[c];
  }
  sum = WarpSum(sum);
  if (lane == 0) y[row] = sum;
}

bool Aligned16(const void* pointer) { return reinterpret_cast<uintptr_t>(pointer) % 16 == 0; }

}  // namespace

cudaError_t Gemv(const void* w, DType w_dtype, const float* x, int64_t n, int64_t k, float* y,
                 cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n >= 0 && k > 0);
  TESSERA_CUDA_CHECK_ARG(w_dtype == DType::kF16 || w_dtype == DType::kBF16);
  if (n == 0) return cudaSuccess;
  const bool vectorized = k % 8 == 0 && Aligned16(w) && Aligned16(x);
  const unsigned blocks = BlocksFor(n, kWarpsPerBlock);
  if (w_dtype == DType::kF16) {
    GemvKernel<<<blocks, kWarpsPerBlock * 32, 0, stream>>>(static_cast<const __half*>(w), x, n,
                                                           k, vectorized, y);
  } else {
    GemvKernel<<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
        static_cast<const __nv_bfloat16*>(w), x, n, k, vectorized, y);
  }
  return cudaGetLastError();
}

}  // namespace tessera::cuda
