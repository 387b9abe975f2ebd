// Programmatic dependent launch: in the decode step's graph a kernel may start while the one
// before it is still finishing (CUDA graph edges of programmatic type, see the CUDA programming
// guide), so that its launch overlaps the previous kernel's tail. Every kernel the decode step
// runs therefore waits here before it reads or writes anything an earlier kernel produces or
// reads. What the host uploads before the step (the token's position, the cache views and block
// tables) and the weights may be read before the wait, so that those loads' latency hides behind
// the previous kernel. Launched the ordinary way, the wait returns at once.
#pragma once

#include <cuda_runtime.h>

namespace tessera::cuda {

__device__ __forceinline__ void WaitForPrecedingKernels() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  cudaGridDependencySynchronize();
#endif
}

}  // namespace tessera::cuda
