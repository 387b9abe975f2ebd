// Elementwise and memory-bound: a grid-stride loop over the values, one thread per value.
#include "kernels/cuda/bias.h"

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"

namespace tessera::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void AddBiasKernel(float* x, const T* bias, int64_t n, int64_t dim) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    x[i] += ToFloat(bias[i % dim]);
  }
}

}  // namespace

cudaError_t AddBias(float* x, const void* bias, DType bias_dtype, int64_t n_rows, int64_t dim,
                    cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n_rows >= 0 && dim > 0);
  const int64_t n = n_rows * dim;
  if (n == 0) return cudaSuccess;
  constexpr int64_t kMaxBlocks = 4096;  // the stride loop covers the rest
  const unsigned blocks = BlocksFor(n < kMaxBlocks * kThreads ? n : kMaxBlocks * kThreads,
                                    kThreads);
  return DispatchDType(bias_dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    AddBiasKernel<<<blocks, kThreads, 0, stream>>>(x, static_cast<const T*>(bias), n, dim);
    return cudaGetLastError();
  });
}

}  // namespace tessera::cuda
