// Loops whose stores could alias their next loads, as far as the compiler knows (a row copied or
// rotated in place): written plainly, each iteration's load waits for the previous store, one
// memory round trip per element. InBatches loads a batch of a thread's elements before it stores
// any of them.
#pragma once

#include <cuda_runtime.h>

namespace tessera::cuda {

inline constexpr int kInFlight = 8;  // elements a thread loads before it stores

// For i in [0, count), this thread's share (i = threadIdx.x + k * blockDim.x): load(i, a, b) for a
// batch of kInFlight, then store(i, a, b) for the same batch; a and b are two floats an element
// carries (b unused by copies).
template <typename Load, typename Store>
__device__ __forceinline__ void InBatches(int count, Load load, Store store) {
  for (int first = threadIdx.x; first < count; first += kInFlight * blockDim.x) {
    float a[kInFlight], b[kInFlight];
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
      const int i = first + j * blockDim.x;
      if (i < count) load(i, a[j], b[j]);
    }
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
      const int i = first + j * blockDim.x;
      if (i < count) store(i, a[j], b[j]);
    }
  }
}

}  // namespace tessera::cuda
