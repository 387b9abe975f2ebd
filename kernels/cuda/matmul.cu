// cuBLAS is column-major. A row-major [rows, cols] array is the column-major [cols, rows] one, so
// row-major y[m, n] = x w^T is column-major y^T[n, m] = w[n, k] x^T: w is passed transposed (the
// column-major view of w is [k, n]) and x as is (its view is x^T, [k, m]).
#include "kernels/cuda/matmul.h"

#include <limits>

namespace tessera::cuda {

cublasStatus_t Matmul(cublasHandle_t handle, const void* x, const void* w, DType dtype, int64_t m,
                      int64_t n, int64_t k, float* y, cudaStream_t stream) {
  constexpr int64_t kMaxDim = std::numeric_limits<int>::max();
  if (handle == nullptr || m < 0 || n < 0 ||
      k <= 0 || m > kMaxDim || n > kMaxDim || k > kMaxDim) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const cublasStatus_t status = cublasSetStream(handle, stream);
  if (status != CUBLAS_STATUS_SUCCESS) return status;
  const cudaDataType_t operand_type = dtype == DType::kF32   ? CUDA_R_32F
                                      : dtype == DType::kF16 ? CUDA_R_16F
                                                             : CUDA_R_16BF;
  const float alpha = 1.0f;
  const float beta = 0.0f;
  return cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                      static_cast<int>(k), &alpha, w, operand_type, static_cast<int>(k), x,
                      operand_type, static_cast<int>(k), &beta, y, CUDA_R_32F,
                      static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

}  // namespace tessera::cuda
