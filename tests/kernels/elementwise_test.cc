// Add, AddBias (every bias dtype) and SwiGlu: hand-computed values, in-place use, and SwiGlu
// against a double-precision reference including saturated gates.
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera::cpu {
namespace {

using test::StoredWeight;

TEST(ElementwiseTest, AddsAndWorksInPlace) {
  std::vector<float> a = {1, 2, 3};
  const std::vector<float> b = {10, -20, 0.5f};
  std::vector<float> out(3);
  Add(a.data(), b.data(), 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{11, -18, 3.5f}));
  Add(a.data(), b.data(), 3, a.data());
  EXPECT_EQ(a, out);
}

class ElementwiseBiasTest : public testing::TestWithParam<DType> {};

TEST_P(ElementwiseBiasTest, AddsBiasToEveryRow) {
  std::vector<float> x = {1, 2, 3,  // [2, 3]
                          4, 5, 6};
  const StoredWeight bias({0.5f, -1, 2}, GetParam(), {3});
  AddBias(x.data(), bias.tensor(), 2);
  EXPECT_EQ(x, (std::vector<float>{1.5f, 1, 5,  //
                                   4.5f, 4, 8}));
}

INSTANTIATE_TEST_SUITE_P(Elementwise, ElementwiseBiasTest, testing::ValuesIn(test::kAllDTypes),
                         test::DTypeTestName);

TEST(ElementwiseTest, SwiGluHandComputed) {
  // silu(1) = 1 / (1 + e^-1) = 0.7310585786; silu(-1) = -1 / (1 + e) = -0.2689414214.
  const std::vector<float> gate = {0, 1, -1, 2};
  const std::vector<float> up = {5, 2, 3, -1};
  std::vector<float> out(4);
  SwiGlu(gate.data(), up.data(), 4, out.data());
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 2 * 0.7310585786f, 1e-6f);
  EXPECT_NEAR(out[2], 3 * -0.2689414214f, 1e-6f);
  EXPECT_NEAR(out[3], -1 * 1.7615941560f, 1e-6f);  // silu(2) = 2 / (1 + e^-2)
}

TEST(ElementwiseTest, SwiGluSaturatesWithoutNan) {
  // Large |gate|: silu tends to the identity above and to zero below; exp(-g) overflows there.
  const std::vector<float> gate = {100, -100, 1000, -1000};
  const std::vector<float> up = {2, 2, 1, 1};
  std::vector<float> out(4);
  SwiGlu(gate.data(), up.data(), 4, out.data());
  EXPECT_FLOAT_EQ(out[0], 200);
  EXPECT_NEAR(out[1], 0, 1e-30);
  EXPECT_FLOAT_EQ(out[2], 1000);
  EXPECT_EQ(out[3], 0.0f);
}

TEST(ElementwiseTest, SwiGluMatchesDoublePrecisionReferenceInPlace) {
  const int64_t n = 1001;
  std::vector<float> gate = test::RandomFloats(n, 21);
  for (float& g : gate) g *= 12;  // spans the linear, curved and saturated parts of silu
  const std::vector<float> up = test::RandomFloats(n, 22);
  std::vector<double> expected(n);
  for (int64_t i = 0; i < n; ++i) {
    const double sigmoid = 1 / (1 + std::exp(-static_cast<double>(gate[i])));
    expected[i] = gate[i] * sigmoid * up[i];
  }
  SwiGlu(gate.data(), up.data(), n, gate.data());
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_NEAR(gate[i], expected[i], 1e-6 * (1 + std::abs(expected[i]))) << "at " << i;
  }
}

}  // namespace
}  // namespace tessera::cpu
