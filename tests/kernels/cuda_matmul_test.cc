// The cuBLAS matmul (with the fp32-to-half conversion that feeds it) against the CPU backend.
#if TESSERA_HAVE_CUDA

#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <tuple>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/matmul.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// The CPU reference gets x already rounded to the operand dtype, so both compute the same
// products exactly and accumulate in fp32: only the summation order differs.
constexpr double kTolerance = 1e-5;

class CudaMatmulTest : public testing::TestWithParam<DType> {};

TEST_P(CudaMatmulTest, ConvertRoundsLikeCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  std::vector<float> x = test::RandomFloats(1001, 13);
  x.push_back(1e6f);  // past fp16's range: infinity in both
  auto x_device = test::ToDevice(x);
  cuda::DeviceBuffer<uint16_t> converted;
  ASSERT_EQ(converted.Allocate(x.size()), cudaSuccess);
  ASSERT_EQ(cuda::ConvertFromFloat(x_device.data(), static_cast<int64_t>(x.size()), GetParam(),
                                   converted.data(), nullptr),
            cudaSuccess);
  std::vector<uint16_t> expected(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    expected[i] =
        GetParam() == DType::kF16 ? cpu::FloatToHalf(x[i]) : cpu::FloatToBFloat16(x[i]);
  }
  EXPECT_EQ(test::ToHost(converted), expected);
}

TEST_P(CudaMatmulTest, MatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape s : {Shape{2, 33, 64}, Shape{17, 250, 4096}, Shape{64, 128, 72}}) {
    const std::vector<float> x = test::RandomFloats(s.m * s.k, 14);
    const test::StoredWeight w(test::RandomWeightValues(s.n * s.k, 15), GetParam(), {s.n, s.k});
    std::vector<float> expected(s.m * s.n);
    cpu::Matmul(test::RoundedTo(x, GetParam()).data(), w.tensor(), s.m, expected.data());

    auto x_device = test::ToDevice(x);
    cuda::DeviceBuffer<uint16_t> x_half;
    ASSERT_EQ(x_half.Allocate(x.size()), cudaSuccess);
    ASSERT_EQ(cuda::ConvertFromFloat(x_device.data(), s.m * s.k, GetParam(), x_half.data(),
                                     nullptr),
              cudaSuccess);
    cuda::DeviceBuffer<char> w_device;
    ASSERT_EQ(w_device.Allocate(w.tensor().bytes()), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(w_device.data(), w.tensor().data, w.tensor().bytes(),
                         cudaMemcpyHostToDevice),
              cudaSuccess);
    auto y = test::PoisonedOutput(s.m * s.n);
    ASSERT_EQ(cuda::Matmul(handle, x_half.data(), w_device.data(), GetParam(), s.m, s.n, s.k,
                           y.data(), /*add_to_y=*/false, nullptr),
              CUBLAS_STATUS_SUCCESS);
    EXPECT_LT(test::RelativeError(test::ToHost(y), expected), kTolerance)
        << "m=" << s.m << " n=" << s.n << " k=" << s.k;

    // Added to what y holds, as a block's last projection adds itself to the residual stream.
    const std::vector<float> residual = test::RandomFloats(s.m * s.n, 20);
    std::vector<float> expected_sum(s.m * s.n);
    cpu::Add(residual.data(), expected.data(), s.m * s.n, expected_sum.data());
    auto sum = test::ToDevice(residual);
    ASSERT_EQ(cuda::Matmul(handle, x_half.data(), w_device.data(), GetParam(), s.m, s.n, s.k,
                           sum.data(), /*add_to_y=*/true, nullptr),
              CUBLAS_STATUS_SUCCESS);
    EXPECT_LT(test::RelativeError(test::ToHost(sum), expected_sum), kTolerance)
        << "added, m=" << s.m << " n=" << s.n << " k=" << s.k;
  }
  cublasDestroy(handle);
}

// Two matrices back to back and one input, as a layer's k and v projections: each output where
// y_stride puts it, the gap between them untouched; in fp32, and in the weights' 16-bit type as
// the CPU's fp32 result rounded (an ulp apart only where the summation orders straddle a rounding
// boundary, about one value in 4000).
TEST_P(CudaMatmulTest, SharedInputMultipliesEachMatrix) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  constexpr int64_t kM = 5, kN = 48, kK = 256, kYStride = kM * kN + 7;
  const std::vector<float> x = test::RoundedTo(test::RandomFloats(kM * kK, 18), GetParam());
  const std::vector<float> both = test::RandomWeightValues(2 * kN * kK, 19);
  const test::StoredWeight w(both, GetParam(), {2 * kN, kK});
  std::vector<float> expected(2 * kM * kN);
  for (int i = 0; i < 2; ++i) {
    const std::vector<float> one(both.begin() + i * kN * kK, both.begin() + (i + 1) * kN * kK);
    const test::StoredWeight matrix(one, GetParam(), {kN, kK});
    cpu::Matmul(x.data(), matrix.tensor(), kM, expected.data() + i * kM * kN);
  }
  test::DeviceValues x_device(x, GetParam());
  cuda::DeviceBuffer<char> w_device;
  ASSERT_EQ(w_device.Allocate(w.tensor().bytes()), cudaSuccess);
  ASSERT_EQ(
      cudaMemcpy(w_device.data(), w.tensor().data, w.tensor().bytes(), cudaMemcpyHostToDevice),
      cudaSuccess);
  for (const DType y_dtype : {DType::kF32, GetParam()}) {
    test::DeviceValues y(std::vector<float>(kYStride + kM * kN, NAN), y_dtype);
    ASSERT_EQ(cuda::MatmulSharedInput(handle, x_device.data(), w_device.data(), kN * kK, 2,
                                      GetParam(), kM, kN, kK, y.data(), y_dtype, kYStride, nullptr),
              CUBLAS_STATUS_SUCCESS);
    const std::vector<float> out = y.ToHostFloats();
    std::vector<float> products(out.begin(), out.begin() + kM * kN);
    products.insert(products.end(), out.begin() + kYStride, out.end());
    if (y_dtype == DType::kF32) {
      EXPECT_LT(test::RelativeError(products, expected), kTolerance);
    } else {
      EXPECT_LT(test::RelativeError(products, test::RoundedTo(expected, y_dtype)), 1e-4)
          << DTypeName(y_dtype);
    }
    for (int64_t i = kM * kN; i < kYStride; ++i) EXPECT_TRUE(std::isnan(out[i])) << i;
  }
  // An output type the weights are not in is refused.
  const DType other = GetParam() == DType::kBF16 ? DType::kF16 : DType::kBF16;
  EXPECT_EQ(
      cuda::MatmulSharedInput(handle, x_device.data(), w_device.data(), kN * kK, 2, GetParam(), kM,
                              kN, kK, w_device.data(), other, kYStride, nullptr),
      CUBLAS_STATUS_INVALID_VALUE);
  cublasDestroy(handle);
}

// F32 operands go through cuBLAS in full fp32 (no TF32): only the summation order differs.
TEST(CudaMatmulF32Test, MatchesCpuInFullPrecision) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  for (const auto& [m, n, k] :
       {std::tuple<int64_t, int64_t, int64_t>{1, 33, 64}, {17, 250, 4096}}) {
    const std::vector<float> x = test::RandomFloats(m * k, 16);
    const std::vector<float> w = test::RandomFloats(n * k, 17);
    std::vector<float> expected(m * n);
    cpu::Matmul(x.data(), Tensor(w.data(), DType::kF32, {n, k}), m, expected.data());
    auto x_device = test::ToDevice(x);
    auto w_device = test::ToDevice(w);
    auto y = test::PoisonedOutput(m * n);
    ASSERT_EQ(cuda::Matmul(handle, x_device.data(), w_device.data(), DType::kF32, m, n, k, y.data(),
                           /*add_to_y=*/false, nullptr),
              CUBLAS_STATUS_SUCCESS);
    // TF32 (10-bit mantissa) would miss this by orders of magnitude.
    EXPECT_LT(test::RelativeError(test::ToHost(y), expected), 1e-6) << m << "x" << n << "x" << k;
  }
  cublasDestroy(handle);
}

INSTANTIATE_TEST_SUITE_P(HalfDTypes, CudaMatmulTest, testing::Values(DType::kF16, DType::kBF16),
                         test::DTypeTestName);

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
