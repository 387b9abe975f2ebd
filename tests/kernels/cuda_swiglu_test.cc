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
    ASSERT_EQ(cuda::SwiGlu(gate_device.data(), up_device.data(), n, out.data(), nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(out), expected), kTolerance) << "n=" << n;

    // In place over the gate, as the MLP uses it.
    ASSERT_EQ(cuda::SwiGlu(gate_device.data(), up_device.data(), n, gate_device.data(), nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(gate_device), expected), kTolerance);
  }
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
