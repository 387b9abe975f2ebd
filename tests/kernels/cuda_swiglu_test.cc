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
    ASSERT_EQ(cuda::SwiGlu(gate_device.data(), up_device.data(), DType::kF32, n, out.data(),
                           DType::kF32, nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(out), expected), kTolerance) << "n=" << n;

    // From addresses one value past 16-byte alignment: the single-value loop.
    if (n > 1) {
      auto shifted_out = test::PoisonedOutput(n);
      ASSERT_EQ(cuda::SwiGlu(gate_device.data() + 1, up_device.data() + 1, DType::kF32, n - 1,
                             shifted_out.data() + 1, DType::kF32, nullptr),
                cudaSuccess);
      const std::vector<float> shifted = test::ToHost(shifted_out);
      EXPECT_LT(test::RelativeError({shifted.begin() + 1, shifted.end()},
                                    {expected.begin() + 1, expected.end()}),
                kTolerance)
          << "n=" << n << ", unaligned";
    }

    // In place over the gate, as the MLP uses it.
    ASSERT_EQ(cuda::SwiGlu(gate_device.data(), up_device.data(), DType::kF32, n, gate_device.data(),
                           DType::kF32, nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(gate_device), expected), kTolerance);
  }
}

// The forms a prompt's MLP takes: gate and up in fp32 or in the weights' 16-bit type (as its
// GEMMs write them), the output in that 16-bit type as the down projection's operand. The CPU
// gets the same inputs (16-bit ones widened) and its result is rounded like the output.
TEST(CudaSwiGluTest, SixteenBitInputsAndOutputMatchTheCpuRounded) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  constexpr int64_t kN = 14336 * 3 + 5;
  std::vector<float> gate = RandomFloats(kN, 3);
  for (float& g : gate) g *= 8;
  const std::vector<float> up = RandomFloats(kN, 4);
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    for (DType in_dtype : {DType::kF32, dtype}) {
      const std::vector<float> gate_in = test::RoundedTo(gate, in_dtype);
      const std::vector<float> up_in = test::RoundedTo(up, in_dtype);
      std::vector<float> expected(kN);
      cpu::SwiGlu(gate_in.data(), up_in.data(), kN, expected.data());
      test::DeviceValues gate_device(gate_in, in_dtype);
      test::DeviceValues up_device(up_in, in_dtype);
      test::DeviceValues out(std::vector<float>(kN, NAN), dtype);
      ASSERT_EQ(cuda::SwiGlu(gate_device.data(), up_device.data(), in_dtype, kN, out.data(), dtype,
                             nullptr),
                cudaSuccess);
      EXPECT_LT(test::RelativeError(out.ToHostFloats(), test::RoundedTo(expected, dtype)),
                kRoundedTolerance)
          << DTypeName(in_dtype) << " in, " << DTypeName(dtype) << " out";
    }
  }
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
