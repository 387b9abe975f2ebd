// Error propagation for the CUDA backend's host code. Launchers return cudaError_t and never exit
// or throw; these macros keep the checks to one line each.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

// Returns the error of a CUDA runtime call from the enclosing function.
#define TESSERA_CUDA_RETURN_IF_ERROR(expr)       \
  do {                                           \
    const cudaError_t tessera_cuda_error = expr; \
    if (tessera_cuda_error != cudaSuccess) {     \
      return tessera_cuda_error;                 \
    }                                            \
  } while (0)

// Returns cudaErrorInvalidValue when a launcher's precondition does not hold.
#define TESSERA_CUDA_CHECK_ARG(condition) \
  do {                                    \
    if (!(condition)) {                   \
      return cudaErrorInvalidValue;       \
    }                                     \
  } while (0)

namespace tessera::cuda {

// Blocks needed to cover `n` items with `per_block` items each.
constexpr unsigned BlocksFor(long long n, int per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

// `bytes` rounded up to 256, so that the next region carved from a workspace is aligned for any
// type (as cudaMalloc's allocations are).
constexpr size_t WorkspaceAligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

// The current device's number of SMs, which launchers size their grids by.
inline cudaError_t CurrentDeviceSms(int* sms) {
  int device = 0;
  TESSERA_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  return cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, device);
}

}  // namespace tessera::cuda
