// One block per token id copies its table row, widened to fp32; rows are contiguous, so the
// threads of a block read and write consecutive elements, a batch of loads at a time
// (batched_loads.cuh): one element at a time, 64 rows of 4096 took 10 us.
#include "kernels/cuda/embedding.h"

#include <cmath>

#include "kernels/cuda/batched_loads.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"
#include "kernels/cuda/grid_dependency.cuh"

namespace tessera::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void EmbeddingGatherKernel(const T* table, int64_t vocab, int64_t dim,
                                      const int32_t* ids, float* out) {
  const int64_t token = blockIdx.x;
  WaitForPrecedingKernels();
  const int32_t id = ids[token];
  float* out_row = out + token * dim;  // [dim]
  if (id < 0 || id >= vocab) {
    for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) out_row[d] = NAN;
    return;
  }
  const T* row = table + id * dim;  // [dim]
  InBatches(
      static_cast<int>(dim), [&](int d, float& value, float&) { value = ToFloat(row[d]); },
      [&](int d, float value, float) { out_row[d] = value; });
}

}  // namespace

cudaError_t EmbeddingGather(const void* table, DType table_dtype, int64_t vocab, int64_t dim,
                            const int32_t* ids, int64_t n_ids, float* out, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(n_ids >= 0 && dim > 0 && dim <= INT32_MAX && vocab > 0);
  if (n_ids == 0) return cudaSuccess;
  return DispatchDType(table_dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    EmbeddingGatherKernel<T><<<static_cast<unsigned>(n_ids), kThreads, 0, stream>>>(
        static_cast<const T*>(table), vocab, dim, ids, out);
    return cudaGetLastError();
  });
}

}  // namespace tessera::cuda
