// Elementwise, one thread per value; the conversions round to nearest even like cpu/half.h.
#include "kernels/cuda/convert.h"

#include <type_traits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"

namespace tessera::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void ConvertFromFloatKernel(const float* x, int64_t n, T* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) FromFloat(x[i], out + i);
}

}  // namespace

cudaError_t ConvertFromFloat(const float* x, int64_t n, DType dtype, void* out,
                             cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n >= 0 && dtype != DType::kF32);
  if (n == 0) return cudaSuccess;
  return DispatchDType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, float>) {
      ConvertFromFloatKernel<<<BlocksFor(n, kThreads), kThreads, 0, stream>>>(
          x, n, static_cast<T*>(out));
    }
    return cudaGetLastError();
  });
}

}  // namespace tessera::cuda
