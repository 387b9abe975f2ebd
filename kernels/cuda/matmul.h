// Matrix products for m > 1 (prefill, batched decode) through cuBLAS on the tensor cores: fp16
// or bf16 operands, fp32 accumulation and fp32 output. fp32 operands (models stored in F32) are
// multiplied in full fp32 precision, without TF32, so they match the CPU backend closely. The caller creates the cuBLAS handle once
// and passes it in; creating one per call would cost far more than the product.
#pragma once

#include <cstdint>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/tensor.h"

namespace tessera::cuda {

// y = x @ w^T: y[m, n] = sum_k x[m, k] * w[n, k], like cpu::Matmul; with add_to_y,
// y += x @ w^T in the GEMM's epilogue (a block's last projection adding itself to the residual
// stream, with no pass of its own over the rows).
//   x: [m, k] and w: [n, k] (Linear layout) both in `dtype`; y: [m, n] fp32.
// Runs on `stream` (set on the handle). Returns CUBLAS_STATUS_INVALID_VALUE for bad arguments.
cublasStatus_t Matmul(cublasHandle_t handle, const void* x, const void* w, DType dtype, int64_t m,
                      int64_t n, int64_t k, float* y, bool add_to_y, cudaStream_t stream);

// Matmul of one x with `count` weight matrices of one shape lying `w_stride` elements apart,
// y_i = x @ w_i^T into y + i * y_stride, in one batched launch: for the products of one input (a
// layer's k and v projections, its gate and up projections). y in `y_dtype`: fp32, or `dtype`
// (rounded from the fp32 accumulation) where the rows are only read by a kernel that takes them
// in that type.
cublasStatus_t MatmulSharedInput(cublasHandle_t handle, const void* x, const void* w,
                                 int64_t w_stride, int count, DType dtype, int64_t m, int64_t n,
                                 int64_t k, void* y, DType y_dtype, int64_t y_stride,
                                 cudaStream_t stream);

}  // namespace tessera::cuda
