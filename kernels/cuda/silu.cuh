// SiLU (x * sigmoid(x)) as cpu::SwiGlu computes it, for the kernels that apply SwiGLU: the
// elementwise one and the decode step's GEMV that fuses it.
#pragma once

#include <cuda_runtime.h>

namespace tessera::cuda {

__device__ __forceinline__ float Silu(float x) { return x / (1.0f + expf(-x)); }

}  // namespace tessera::cuda
