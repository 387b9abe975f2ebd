// Batch-1 matrix-vector products on the GPU: the decode step's projections, where every weight is
// read once per token and the time is the weight bytes over memory bandwidth. Weights are fp32,
// fp16 or bf16, the activation vector fp32 (like all GPU activations here), accumulation fp32.
//
// Small launches leave the GPU idle between them, so the decode step fuses what shares an input:
// the q, k and v projections run as one grid (GemvFused), with the rotary embedding and the
// KV-cache store of the new key and value where nothing comes between them (GemvQkvRope), and
// the gate and up projections together with SwiGLU (GemvSwiGlu), which then never writes the two
// projections out. The RMSNorm before a block's projections runs in them too (GemvNorm), and the
// residual add after a block in its last projection (GemvMatrix::add_to_y), so one token's
// transformer layer runs no norm kernel.
//
// Where all of a launch's blocks fit on the GPU at once with their rows in shared memory, as in a
// small model's decode step, the rows are bulk-copied there, all of them in flight from the start
// (qwen2.5-0.5b's step on an H100: 1304 tokens/s loading into registers, 1408 staged).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/kv_cache_view.h"
#include "kernels/tensor.h"

namespace tessera::cuda {

using cpu::RopeStyle;

// One matrix of a fused GEMV and where its product goes.
struct GemvMatrix {
  const void* w = nullptr;     // [rows, k] row-major, in the call's weight dtype
  int64_t rows = 0;
  float* y = nullptr;          // [rows]
  const void* bias = nullptr;  // [rows] in bias_dtype, added to y; nullptr: none
  DType bias_dtype = DType::kF32;
  bool add_to_y = false;  // y[r] += the product (and bias): the residual add
};

// The RMSNorm a GEMV applies to x before its products, in cuda::RmsNorm's order of operations:
// y[r] = sum_c w[r, c] * RmsNorm(x)[c]. Each block normalizes x for itself, so x must be 16-byte
// aligned, k a multiple of 4 and k floats at most kMaxNormalizedBytes.
struct GemvNorm {
  const void* weight = nullptr;  // [k] in `dtype`; nullptr: x as it is
  DType dtype = DType::kF32;
  float eps = 0.0f;
};

inline constexpr size_t kMaxNormalizedBytes = 160 * 1024;

// Whether GEMVs over k inputs of weights in w_dtype gain from normalizing x themselves. Where each
// warp's share of a row is one batch of loads, the loads are in flight before the block's norm,
// which then costs less than a norm kernel (qwen2.5-0.5b's step on an H100: 1066 tokens/s with
// norm kernels, 1129 without). Longer rows load after it, every block paying its latency
// (llama-3-8b's step, k = 4096, gained nothing: 164.7 against 164.3 tokens/s).
bool GemvNormPays(int64_t k, DType w_dtype);

inline constexpr int kMaxFusedGemvMatrices = 3;

// y[r] = sum_c w[r, c] * x[c], matching cpu::Matmul with m = 1.
//   w: [n, k] row-major in `w_dtype`; x: [k] fp32; y: [n] fp32; device memory.
// Any n and k work; k a multiple of 16 bytes' worth of weights with w and x 16-byte aligned
// takes the vectorized path that reaches the bandwidth ceiling, other shapes a slower
// element-wise path.
cudaError_t Gemv(const void* w, DType w_dtype, const float* x, int64_t n, int64_t k, float* y,
                 cudaStream_t stream);

// Gemv of up to kMaxFusedGemvMatrices matrices that share x, k and the weight dtype, in one
// launch, each plus its optional bias, of x normalized by `norm` where it has a weight.
cudaError_t GemvFused(std::span<const GemvMatrix> matrices, DType w_dtype, const float* x,
                      int64_t k, const GemvNorm& norm, cudaStream_t stream);

// Rotary position embedding and the KV-cache store of one token, done by its q/k/v GEMV
// (GemvQkvRope) instead of a RopeAndStoreKv after it; arguments as RopeAndStoreKv's.
struct GemvRope {
  const int32_t* position = nullptr;  // device memory: the token's position
  const float* inv_freq = nullptr;    // [rotary_dim / 2]
  int rotary_dim = 0;
  RopeStyle style = RopeStyle::kAdjacentPairs;
  float scale = 1.0f;
  int head_dim = 0;
  const KvCacheView* cache = nullptr;  // device memory: the token's view
  DType cache_dtype = DType::kF32;
};

// GemvFused of one token's q, k and v projections (qkv[0..2]: n_heads * head_dim rows, then
// n_kv_heads * head_dim twice), then RopeAndStoreKv of the token: q rotated into qkv[0].y, k
// rotated and v written to the cache row of rope.position (qkv[1].y and qkv[2].y unused). Each
// warp takes the two rows of a rotated pair, so the rotation needs no second pass.
// Preconditions: as GemvFused and RopeAndStoreKv; head_dim even.
cudaError_t GemvQkvRope(std::span<const GemvMatrix, 3> qkv, DType w_dtype, const float* x,
                        int64_t k, const GemvNorm& norm, const GemvRope& rope, cudaStream_t stream);

// y[r] = silu(gate[r, :] . x) * (up[r, :] . x), matching cpu::Matmul of both then cpu::SwiGlu;
// x normalized by `norm` first where it has a weight.
//   gate, up: [n, k] in `w_dtype`; x: [k]; y: [n]; device memory.
cudaError_t GemvSwiGlu(const void* gate, const void* up, DType w_dtype, const float* x, int64_t n,
                       int64_t k, const GemvNorm& norm, float* y, cudaStream_t stream);

}  // namespace tessera::cuda
