// The CUDA SwiGLU against the CPU backend's.
#if TESSERA_HAVE_CUDA

#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/swiglu.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

using test::RandomFloats;

// fp32 in and out; expf against std::exp differ by an ulp or two.
constexpr double kTolerance = 1e-6;
// A 16-bit output against the CPU's fp32 result rounded the same way: an ulp apart only at the
// rare values within 1e-6 of a rounding boundary; rounding by truncation would err by half an ulp
// (2e-3 in bf16) on average.
constexpr double kRoundedTolerance = 1e-4;

TEST(CudaSwiGluTest, MatchesCpuAtOddSizes) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t n : {1, 31, 1000003}) {
    std::vector<float> gate = RandomFloats(n, 1);
    for (float& g : gate) g *= 8;  // reach saturated silu on both sides
    const std::vector<float> up = RandomFloats(n, 2);
    std::vector<float> expected(n);
    cpu::SwiGlu(gate.data(), up.data(), n, expected.data());

    auto gate_device = test::ToDevice(gate);
    auto up_device = test::ToDevice(up);
    auto out = test::PoisonedOutput(n);
    ASSERT_EQ(
        cuda::SwiGlu(gate_device.data(), up_device.data(), n, out.data(), DType::kF32, nullptr),
        cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(out), expected), kTolerance) << "n=" << n;

    // In place over the gate, as the MLP uses it.
    ASSERT_EQ(cuda::SwiGlu(gate_device.data(), up_device.data(), n, gate_device.data(), DType::kF32,
                           nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(gate_device), expected), kTolerance);
  }
}

// The form the down projection's tensor-core product over 16-bit weights takes as its operand.
TEST(CudaSwiGluTest, SixteenBitOutputIsTheCpuResultRounded) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  constexpr int64_t kN = 14336 * 3 + 5;
  std::vector<float> gate = RandomFloats(kN, 3);
  for (float& g : gate) g *= 8;
  const std::vector<float> up = RandomFloats(kN, 4);
  std::vector<float> expected(kN);
  cpu::SwiGlu(gate.data(), up.data(), kN, expected.data());
  auto gate_device = test::ToDevice(gate);
  auto up_device = test::ToDevice(up);
  for (DType out_dtype : {DType::kF16, DType::kBF16}) {
    test::DeviceValues out(std::vector<float>(kN, NAN), out_dtype);
    ASSERT_EQ(
        cuda::SwiGlu(gate_device.data(), up_device.data(), kN, out.data(), out_dtype, nullptr),
        cudaSuccess);
    EXPECT_LT(test::RelativeError(out.ToHostFloats(), test::RoundedTo(expected, out_dtype)),
              kRoundedTolerance)
        << DTypeName(out_dtype);
  }
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
