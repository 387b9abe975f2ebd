// Batch-1 matrix-vector products on the GPU: the decode step's projections, where every weight is
// read once per token and the time is the weight bytes over memory bandwidth. Weights are fp32,
// fp16 or bf16, the activation vector fp32 (like all GPU activations here), accumulation fp32.
//
// Small launches leave the GPU idle between them, so the decode step fuses what shares an input:
// the q, k and v projections run as one grid (GemvFused), and the gate and up projections
// together with SwiGLU (GemvSwiGlu), which then never writes the two projections out.
#pragma once

#include <cstdint>
#include <span>

#include <cuda_runtime.h>

#include "kernels/tensor.h"

namespace tessera::cuda {

// One matrix of a fused GEMV and where its product goes.
struct GemvMatrix {
  const void* w = nullptr;     // [rows, k] row-major, in the call's weight dtype
  int64_t rows = 0;
  float* y = nullptr;          // [rows]
  const void* bias = nullptr;  // [rows] in bias_dtype, added to y; nullptr: none
  DType bias_dtype = DType::kF32;
};

inline constexpr int kMaxFusedGemvMatrices = 3;

// y[r] = sum_c w[r, c] * x[c], matching cpu::Matmul with m = 1.
//   w: [n, k] row-major in `w_dtype`; x: [k] fp32; y: [n] fp32; device memory.
// Any n and k work; k a multiple of 16 bytes' worth of weights with w and x 16-byte aligned
// takes the vectorized path that reaches the bandwidth ceiling, other shapes a slower
// element-wise path.
cudaError_t Gemv(const void* w, DType w_dtype, const float* x, int64_t n, int64_t k, float* y,
                 cudaStream_t stream);

// Gemv of up to kMaxFusedGemvMatrices matrices that share x, k and the weight dtype, in one
// launch, each plus its optional bias.
cudaError_t GemvFused(std::span<const GemvMatrix> matrices, DType w_dtype, const float* x,
                      int64_t k, cudaStream_t stream);

// y[r] = silu(gate[r, :] . x) * (up[r, :] . x), matching cpu::Matmul of both then cpu::SwiGlu.
//   gate, up: [n, k] in `w_dtype`; x: [k]; y: [n]; device memory.
cudaError_t GemvSwiGlu(const void* gate, const void* up, DType w_dtype, const float* x, int64_t n,
                       int64_t k, float* y, cudaStream_t stream);

}  // namespace tessera::cuda
