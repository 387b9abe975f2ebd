// Sums of one float per thread across a warp or a block, for the row-wise kernels.
#pragma once

#include <cuda_runtime.h>

namespace tessera::cuda {

__device__ __forceinline__ float WarpSum(float value) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  }
  return value;
}

// Every thread gets the block's total. blockDim.x must be a multiple of 32, at most 1024.
__device__ __forceinline__ float BlockSum(float value) {
  __shared__ float warp_sums[32];
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  value = WarpSum(value);
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  const int n_warps = blockDim.x / 32;
  value = lane < n_warps ? warp_sums[lane] : 0.0f;
  return WarpSum(value);
}

}  // namespace tessera::cuda
