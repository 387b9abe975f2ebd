// One block per row: a block-wide sum gives the mean square, then a second pass over the row
// (served from L1/L2) scales it.
#include "kernels/cuda/rms_norm.h"

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"
#include "kernels/cuda/grid_dependency.cuh"

namespace tessera::cuda {
namespace {

constexpr int kThreads = 256;

// With `delta` set, residual (= x) gets delta added first and is written back.
template <typename W, typename O>
__global__ void RmsNormKernel(float* x, const float* delta, const W* weight, float eps, int64_t dim,
                              O* out) {
  float* row = x + blockIdx.x * dim;  // [dim]
  WaitForPrecedingKernels();
  float sum_squares = 0.0f;
  for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
    float value = row[d];
    if (delta != nullptr) {
      value += delta[blockIdx.x * dim + d];
      row[d] = value;
    }
    sum_squares += value * value;
  }
  const float inv_rms = rsqrtf(BlockSum(sum_squares) / static_cast<float>(dim) + eps);
  O* out_row = out + blockIdx.x * dim;  // [dim]
  for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
    FromFloat(row[d] * inv_rms * ToFloat(weight[d]), out_row + d);
  }
}

cudaError_t LaunchRmsNorm(float* x, const float* delta, const void* weight, DType weight_dtype,
                          float eps, int64_t n_rows, int64_t dim, void* out, DType out_dtype,
                          cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n_rows >= 0 && dim > 0);
  if (n_rows == 0) return cudaSuccess;
  return DispatchDType(weight_dtype, [&](auto weight_tag) {
    using W = typename decltype(weight_tag)::type;
    return DispatchDType(out_dtype, [&](auto out_tag) {
      using O = typename decltype(out_tag)::type;
      RmsNormKernel<W, O><<<static_cast<unsigned>(n_rows), kThreads, 0, stream>>>(
          x, delta, static_cast<const W*>(weight), eps, dim, static_cast<O*>(out));
      return cudaGetLastError();
    });
  });
}

}  // namespace

cudaError_t RmsNorm(const float* x, const void* weight, DType weight_dtype, float eps,
                    int64_t n_rows, int64_t dim, void* out, DType out_dtype, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(out_dtype == DType::kF32 || out != x);
  // Without a delta the kernel never writes through x.
  return LaunchRmsNorm(const_cast<float*>(x), nullptr, weight, weight_dtype, eps, n_rows, dim, out,
                       out_dtype, stream);
}

cudaError_t AddRmsNorm(float* residual, const float* delta, const void* weight, DType weight_dtype,
                       float eps, int64_t n_rows, int64_t dim, void* out, DType out_dtype,
                       cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(delta != nullptr && out != residual);
  return LaunchRmsNorm(residual, delta, weight, weight_dtype, eps, n_rows, dim, out, out_dtype,
                       stream);
}

}  // namespace tessera::cuda
