// The CUDA batch-1 GEMV against the CPU backend's Matmul with m = 1.
#if TESSERA_HAVE_CUDA

#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/gemv.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// Weights hold values exact in fp16 and bf16 and both backends accumulate in fp32, so only the
// summation order differs.
constexpr double kTolerance = 1e-5;

class CudaGemvTest : public testing::TestWithParam<DType> {};

TEST_P(CudaGemvTest, MatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  struct Shape {
    int64_t n, k;
  };
  // k multiples of 8 take the vectorized path (with and without a remainder of the 4-load
  // unroll); the others the element-wise one.
  for (const Shape s : {Shape{1, 8}, Shape{37, 4096}, Shape{300, 1032}, Shape{129, 13},
                        Shape{7, 1001}, Shape{1, 1}}) {
    const test::StoredWeight w(test::RandomWeightValues(s.n * s.k, 11), GetParam(), {s.n, s.k});
    const std::vector<float> x = test::RandomFloats(s.k, 12);
    std::vector<float> expected(s.n);
    cpu::Matmul(x.data(), w.tensor(), 1, expected.data());

    cuda::DeviceBuffer<char> w_device;
    ASSERT_EQ(w_device.Allocate(w.tensor().bytes()), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(w_device.data(), w.tensor().data, w.tensor().bytes(),
                         cudaMemcpyHostToDevice),
              cudaSuccess);
    auto x_device = test::ToDevice(x);
    auto y = test::PoisonedOutput(s.n);
    ASSERT_EQ(cuda::Gemv(w_device.data(), GetParam(), x_device.data(), s.n, s.k, y.data(),
                         nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(y), expected), kTolerance)
        << "n=" << s.n << " k=" << s.k;
  }
}

INSTANTIATE_TEST_SUITE_P(HalfDTypes, CudaGemvTest, testing::Values(DType::kF16, DType::kBF16),
                         test::DTypeTestName);

TEST(CudaGemvPreconditionTest, RejectsFp32Weights) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  EXPECT_EQ(cuda::Gemv(nullptr, DType::kF32, nullptr, 4, 4, nullptr, nullptr),
            cudaErrorInvalidValue);
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
