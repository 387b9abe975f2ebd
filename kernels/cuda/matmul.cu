// cuBLAS is column-major. A row-major [rows, cols] array is the column-major [cols, rows] one, so
// row-major y[m, n] = x w^T is column-major y^T[n, m] = w[n, k] x^T: w is passed transposed (the
// column-major view of w is [k, n]) and x as is (its view is x^T, [k, m]).
#include "kernels/cuda/matmul.h"

#include <limits>

namespace tessera::cuda {

namespace {

cudaDataType_t OperandType(DType dtype) {
  return dtype == DType::kF32 ? CUDA_R_32F : dtype == DType::kF16 ? CUDA_R_16F : CUDA_R_16BF;
}

bool ValidShape(cublasHandle_t handle, int64_t m, int64_t n, int64_t k) {
  constexpr int64_t kMaxDim = std::numeric_limits<int>::max();
  return handle != nullptr && m >= 0 && n >= 0 && k > 0 && m <= kMaxDim && n <= kMaxDim &&
         k <= kMaxDim;
}

// MatmulSharedInput, whose products are added to y where `beta` is 1 (0: y is overwritten).
cublasStatus_t Gemm(cublasHandle_t handle, const void* x, const void* w, int64_t w_stride,
                    int count, DType dtype, int64_t m, int64_t n, int64_t k, void* y, DType y_dtype,
                    int64_t y_stride, float beta, cudaStream_t stream) {
  if (!ValidShape(handle, m, n, k) || count < 1 || w_stride < 0 || y_stride < 0 ||
      (y_dtype != DType::kF32 && y_dtype != dtype)) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const cublasStatus_t status = cublasSetStream(handle, stream);
  if (status != CUBLAS_STATUS_SUCCESS) return status;
  const cudaDataType_t operand_type = OperandType(dtype);
  const float alpha = 1.0f;
  if (count == 1) {
    return cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                        static_cast<int>(k), &alpha, w, operand_type, static_cast<int>(k), x,
                        operand_type, static_cast<int>(k), &beta, y, OperandType(y_dtype),
                        static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  }
  // x's stride 0: every product reads the same input.
  return cublasGemmStridedBatchedEx(
      handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
      static_cast<int>(k), &alpha, w, operand_type, static_cast<int>(k), w_stride, x, operand_type,
      static_cast<int>(k), /*strideB=*/0, &beta, y, OperandType(y_dtype), static_cast<int>(n),
      y_stride, count, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

}  // namespace

cublasStatus_t Matmul(cublasHandle_t handle, const void* x, const void* w, DType dtype, int64_t m,
                      int64_t n, int64_t k, float* y, bool add_to_y, cudaStream_t stream) {
  return Gemm(handle, x, w, /*w_stride=*/0, /*count=*/1, dtype, m, n, k, y, DType::kF32,
              /*y_stride=*/0, add_to_y ? 1.0f : 0.0f, stream);
}

cublasStatus_t MatmulSharedInput(cublasHandle_t handle, const void* x, const void* w,
                                 int64_t w_stride, int count, DType dtype, int64_t m, int64_t n,
                                 int64_t k, void* y, DType y_dtype, int64_t y_stride,
                                 cudaStream_t stream) {
  return Gemm(handle, x, w, w_stride, count, dtype, m, n, k, y, y_dtype, y_stride,
              /*beta=*/0.0f, stream);
}

}  // namespace tessera::cuda
