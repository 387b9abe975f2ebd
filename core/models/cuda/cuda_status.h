// CUDA and cuBLAS results as absl::Status, with the call and its place in the source, for the
// host code of the CUDA backend: kernels return cudaError_t; the engine wants a status.
#pragma once

#include <cstdint>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "absl/status/status.h"

namespace tessera::cuda {

// OK for cudaSuccess; RESOURCE_EXHAUSTED (DEVICE_OUT_OF_MEMORY) for an allocation failure;
// INTERNAL (FORWARD_PASS_FAILED) naming the error, `call`, `file` and `line` otherwise.
absl::Status CudaStatus(cudaError_t error, const char* call, const char* file, int line);
absl::Status CublasStatus(cublasStatus_t status, const char* call, const char* file, int line);

// RESOURCE_EXHAUSTED (DEVICE_OUT_OF_MEMORY) unless `bytes` more fit in device `device`'s free
// memory, naming both.
absl::Status CheckFreeMemory(int device, int64_t bytes, const char* what);

}  // namespace tessera::cuda

#define TESSERA_RETURN_IF_CUDA_ERROR(expr)                                              \
  do {                                                                                  \
    const cudaError_t tessera_cuda_error = (expr);                                      \
    if (tessera_cuda_error != cudaSuccess) {                                            \
      return ::tessera::cuda::CudaStatus(tessera_cuda_error, #expr, __FILE__, __LINE__); \
    }                                                                                   \
  } while (0)

#define TESSERA_RETURN_IF_CUBLAS_ERROR(expr)                                                \
  do {                                                                                      \
    const cublasStatus_t tessera_cublas_status = (expr);                                    \
    if (tessera_cublas_status != CUBLAS_STATUS_SUCCESS) {                                   \
      return ::tessera::cuda::CublasStatus(tessera_cublas_status, #expr, __FILE__, __LINE__); \
    }                                                                                       \
  } while (0)
