// A grid-stride copy of 16-byte vectors, the same as bench/cuda_kernels_bench.cu's baseline: as
// simple as a bandwidth-bound kernel gets, so what it reaches is what the memory delivers.
#include "bench/copy_bandwidth.h"

#define COPY_RETURN_IF_ERROR(expr)                    \
  do {                                                \
    const cudaError_t copy_error = (expr);            \
    if (copy_error != cudaSuccess) return copy_error; \
  } while (0)

namespace tessera::bench {
namespace {

__global__ void CopyKernel(const float4* in, float4* out, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    out[i] = in[i];
  }
}

// Frees the buffers and events on every path out of MeasureCopyBandwidth.
struct CopyResources {
  void* in = nullptr;
  void* out = nullptr;
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  ~CopyResources() {
    cudaFree(in);
    cudaFree(out);
    if (start != nullptr) cudaEventDestroy(start);
    if (stop != nullptr) cudaEventDestroy(stop);
  }
};

}  // namespace

cudaError_t MeasureCopyBandwidth(size_t bytes_each_way, int repeats, CopyBandwidth* result) {
  if (bytes_each_way == 0 || bytes_each_way % sizeof(float4) != 0 || repeats < 1) {
    return cudaErrorInvalidValue;
  }
  int device = 0;
  int sms = 0;
  COPY_RETURN_IF_ERROR(cudaGetDevice(&device));
  COPY_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  CopyResources r;
  COPY_RETURN_IF_ERROR(cudaMalloc(&r.in, bytes_each_way));
  COPY_RETURN_IF_ERROR(cudaMalloc(&r.out, bytes_each_way));
  COPY_RETURN_IF_ERROR(cudaMemset(r.in, 0x3c, bytes_each_way));
  COPY_RETURN_IF_ERROR(cudaEventCreate(&r.start));
  COPY_RETURN_IF_ERROR(cudaEventCreate(&r.stop));

  const size_t n_vectors = bytes_each_way / sizeof(float4);
  double best = 0;
  for (int i = -1; i < repeats; ++i) {  // i = -1: the warm-up
    COPY_RETURN_IF_ERROR(cudaEventRecord(r.start));
    CopyKernel<<<sms * 16, 256>>>(static_cast<const float4*>(r.in), static_cast<float4*>(r.out),
                                  n_vectors);
    COPY_RETURN_IF_ERROR(cudaGetLastError());
    COPY_RETURN_IF_ERROR(cudaEventRecord(r.stop));
    COPY_RETURN_IF_ERROR(cudaEventSynchronize(r.stop));
    float ms = 0;
    COPY_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, r.start, r.stop));
    if (i >= 0 && (best == 0 || ms * 1e-3 < best)) best = ms * 1e-3;
  }
  *result = CopyBandwidth{.bytes_each_way = bytes_each_way,
                          .repeats = repeats,
                          .best_seconds = best,
                          .bytes_per_second = 2.0 * static_cast<double>(bytes_each_way) / best};
  return cudaSuccess;
}

}  // namespace tessera::bench
