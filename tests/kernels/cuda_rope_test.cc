// The CUDA rotary embedding against the CPU backend's, for both pairings, partial rotation and
// LongRoPE's scale.
#if TESSERA_HAVE_CUDA

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/rope.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// fp32; sincosf and std::cos/sin of the same fp32 angle differ by an ulp or two.
constexpr double kTolerance = 1e-5;

struct RopeCase {
  int n_heads;
  int head_dim;
  int rotary_dim;
};

class CudaRopeTest : public testing::TestWithParam<cpu::RopeStyle> {};

TEST_P(CudaRopeTest, MatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (const RopeCase c : {RopeCase{4, 64, 64}, RopeCase{3, 128, 128}, RopeCase{5, 80, 32}}) {
    const std::vector<int32_t> positions = {0, 1, 7, 1000, 8191};
    const int64_t n_tokens = static_cast<int64_t>(positions.size());
    std::vector<float> inv_freq(c.rotary_dim / 2);
    for (int i = 0; i < c.rotary_dim / 2; ++i) {
      inv_freq[i] = std::pow(10000.0f, -2.0f * i / c.rotary_dim);
    }
    const std::vector<float> x = test::RandomFloats(n_tokens * c.n_heads * c.head_dim, 10);
    // 1: plain rotation; 1.1902: LongRoPE's attention factor for a 32x longer context.
    for (const float scale : {1.0f, 1.1902f}) {
      std::vector<float> expected = x;
      cpu::Rope(expected.data(), positions.data(), n_tokens, c.n_heads, c.head_dim, c.rotary_dim,
                inv_freq.data(), GetParam(), scale);

      auto x_device = test::ToDevice(x);
      auto positions_device = test::ToDevice(positions);
      auto inv_freq_device = test::ToDevice(inv_freq);
      ASSERT_EQ(cuda::Rope(x_device.data(), positions_device.data(), n_tokens, c.n_heads,
                           c.head_dim, c.rotary_dim, inv_freq_device.data(), GetParam(), scale,
                           nullptr),
                cudaSuccess);
      EXPECT_LT(test::RelativeError(test::ToHost(x_device), expected), kTolerance)
          << "head_dim=" << c.head_dim << " rotary_dim=" << c.rotary_dim << " scale=" << scale;
    }
  }
}

TEST(CudaRopePreconditionTest, RejectsOddRotaryDim) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  EXPECT_EQ(
      cuda::Rope(nullptr, nullptr, 1, 1, 64, 63, nullptr, cpu::RopeStyle::kHalves, 1.0f, nullptr),
      cudaErrorInvalidValue);
}

INSTANTIATE_TEST_SUITE_P(BothStyles, CudaRopeTest,
                         testing::Values(cpu::RopeStyle::kAdjacentPairs, cpu::RopeStyle::kHalves));

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
