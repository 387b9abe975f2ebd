// Elementwise and memory-bound: a grid-stride loop over the values, one thread per value.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"
#include "kernels/cuda/swiglu.h"

namespace tessera::cuda {
namespace {

constexpr int kThreads = 256;

template <typename I, typename O>
__global__ void SwiGluKernel(const I* gate, const I* up, int64_t n, O* out) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = ToFloat(gate[i]);
    FromFloat(g / (1.0f + expf(-g)) * ToFloat(up[i]), out + i);
  }
}

}  // namespace

cudaError_t SwiGlu(const void* gate, const void* up, DType in_dtype, int64_t n, void* out,
                   DType out_dtype, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n >= 0);
  if (n == 0) return cudaSuccess;
  constexpr int64_t kMaxBlocks = 4096;  // the stride loop covers the rest
  const unsigned blocks = BlocksFor(n < kMaxBlocks * kThreads ? n : kMaxBlocks * kThreads,
                                    kThreads);
  return DispatchDType(in_dtype, [&](auto in_tag) {
    using I = typename decltype(in_tag)::type;
    return DispatchDType(out_dtype, [&](auto out_tag) {
      using O = typename decltype(out_tag)::type;
      SwiGluKernel<I, O><<<blocks, kThreads, 0, stream>>>(
          static_cast<const I*>(gate), static_cast<const I*>(up), n, static_cast<O*>(out));
      return cudaGetLastError();
    });
  });
}

}  // namespace tessera::cuda
