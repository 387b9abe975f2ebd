// The CUDA RMSNorm against the CPU backend's.
#if TESSERA_HAVE_CUDA

#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/rms_norm.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// fp32 activations; weights hold values exact in every dtype, so only the order of the
// sum of squares differs between backends.
constexpr double kTolerance = 1e-5;
// A 16-bit output against the CPU's fp32 result rounded the same way: only values within that
// 1e-5 of a rounding boundary may land an ulp apart (an ulp is 4e-3 relative in bf16), while
// rounding by truncation would err by half an ulp on average.
constexpr double kRoundedTolerance = 1e-4;
constexpr float kEps = 1e-5f;

class CudaRmsNormTest : public testing::TestWithParam<DType> {};

cuda::DeviceBuffer<char> WeightToDevice(const Tensor& weight) {
  cuda::DeviceBuffer<char> buffer;
  EXPECT_EQ(buffer.Allocate(weight.bytes()), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(buffer.data(), weight.data, weight.bytes(), cudaMemcpyHostToDevice),
            cudaSuccess);
  return buffer;
}

// Rows held in registers (a multiple of 4 up to 8192: one, two, four and eight float4s a thread)
// and the loop over single values (other lengths, and longer rows); written in fp32, in place
// (q and k's norms), and in the 16-bit form a tensor-core product over 16-bit weights takes as its
// operand.
TEST_P(CudaRmsNormTest, MatchesCpuInEveryOutputType) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (const int64_t dim : {1, 33, 128, 896, 2048, 4000, 4001, 4096, 8192, 12288}) {
    SCOPED_TRACE(testing::Message() << "dim=" << dim);
    constexpr int64_t kRows = 3;
    const std::vector<float> x = test::RandomFloats(kRows * dim, 5);
    const test::StoredWeight weight(test::RandomWeightValues(dim, 6), GetParam(), {dim});
    std::vector<float> expected(kRows * dim);
    cpu::RmsNorm(x.data(), weight.tensor(), kEps, kRows, dim, expected.data());
    auto x_device = test::ToDevice(x);
    auto weight_device = WeightToDevice(weight.tensor());
    for (DType out_dtype : test::kAllDTypes) {
      test::DeviceValues out(std::vector<float>(kRows * dim, NAN), out_dtype);
      ASSERT_EQ(cuda::RmsNorm(x_device.data(), weight_device.data(), GetParam(), kEps, kRows, dim,
                              out.data(), out_dtype, nullptr),
                cudaSuccess);
      EXPECT_LT(test::RelativeError(out.ToHostFloats(), test::RoundedTo(expected, out_dtype)),
                out_dtype == DType::kF32 ? kTolerance : kRoundedTolerance)
          << DTypeName(out_dtype);
    }
    EXPECT_EQ(test::ToHost(x_device), x);  // the input is left as it was
    ASSERT_EQ(cuda::RmsNorm(x_device.data(), weight_device.data(), GetParam(), kEps, kRows, dim,
                            x_device.data(), DType::kF32, nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(x_device), expected), kTolerance) << "in place";
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaRmsNormTest, testing::ValuesIn(test::kAllDTypes),
                         test::DTypeTestName);

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
