#include "core/models/cuda/cuda_status.h"

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"

namespace tessera::cuda {

absl::Status CudaStatus(cudaError_t error, const char* call, const char* file, int line) {
  if (error == cudaSuccess) return absl::OkStatus();
  if (error == cudaErrorMemoryAllocation) {
    return WithReason(absl::ResourceExhaustedError(absl::StrCat(
                          "GPU out of memory in ", call, " (", file, ":", line, ")")),
                      reason::kDeviceOutOfMemory);
  }
  return WithReason(absl::InternalError(absl::StrCat("CUDA error ", cudaGetErrorName(error), " (",
                                                     cudaGetErrorString(error), ") in ", call,
                                                     " at ", file, ":", line)),
                    reason::kForwardPassFailed);
}

absl::Status CublasStatus(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  if (status == CUBLAS_STATUS_ALLOC_FAILED) {
    return WithReason(absl::ResourceExhaustedError(absl::StrCat(
                          "GPU out of memory in ", call, " (", file, ":", line, ")")),
                      reason::kDeviceOutOfMemory);
  }
  return WithReason(absl::InternalError(absl::StrCat("cuBLAS error ", cublasGetStatusName(status),
                                                     " in ", call, " at ", file, ":", line)),
                    reason::kForwardPassFailed);
}

absl::Status CheckFreeMemory(int device, int64_t bytes, const char* what) {
  TESSERA_RETURN_IF_CUDA_ERROR(cudaSetDevice(device));
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  TESSERA_RETURN_IF_CUDA_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (bytes > static_cast<int64_t>(free_bytes)) {
    return WithReason(absl::ResourceExhaustedError(absl::StrCat(
                          what, " need ", bytes, " bytes of GPU memory on cuda:", device,
                          ", but only ", free_bytes, " of ", total_bytes, " are free")),
                      reason::kDeviceOutOfMemory);
  }
  return absl::OkStatus();
}

}  // namespace tessera::cuda
