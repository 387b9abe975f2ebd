// RmsNorm for every weight dtype: hand-computed rows, in-place use, and odd sizes against a
// double-precision reference.
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera::cpu {
namespace {

using test::StoredWeight;

class RmsNormTest : public testing::TestWithParam<DType> {};

TEST_P(RmsNormTest, NormalizesByRootMeanSquare) {
  // mean([1, 4, 9, 16]) = 7.5; 1 / sqrt(7.5) = 0.36514837167011...
  const std::vector<float> x = {1, 2, 3, 4};
  const StoredWeight ones({1, 1, 1, 1}, GetParam(), {4});
  std::vector<float> out(4);
  RmsNorm(x.data(), ones.tensor(), /*eps=*/0.0f, 1, 4, out.data());
  const float tolerance = 1e-6f;
  EXPECT_NEAR(out[0], 0.365148372f, tolerance);
  EXPECT_NEAR(out[1], 0.730296743f, tolerance);
  EXPECT_NEAR(out[2], 1.095445115f, tolerance);
  EXPECT_NEAR(out[3], 1.460593487f, tolerance);
}

TEST_P(RmsNormTest, ScalesByWeightAndAddsEpsInsideRoot) {
  // Rows [3, 4] (mean square 12.5) and [0, 0]; eps = 3.5 makes the first root exactly 4.
  const std::vector<float> x = {3, 4, 0, 0};
  const StoredWeight weight({2, -0.5f}, GetParam(), {2});
  std::vector<float> out(4);
  RmsNorm(x.data(), weight.tensor(), /*eps=*/3.5f, 2, 2, out.data());
  EXPECT_FLOAT_EQ(out[0], 3.0f / 4 * 2);
  EXPECT_FLOAT_EQ(out[1], 4.0f / 4 * -0.5f);
  EXPECT_EQ(out[2], 0.0f);  // an all-zero row stays zero instead of dividing by zero
  EXPECT_EQ(out[3], 0.0f);
}

TEST_P(RmsNormTest, MatchesDoublePrecisionReferenceInPlace) {
  const int64_t shapes[][2] = {{1, 1}, {1, 7}, {3, 257}, {5, 1024}};  // {n_rows, dim}
  uint32_t seed = 11;
  for (const auto& [n_rows, dim] : shapes) {
    SCOPED_TRACE(testing::Message() << "n_rows=" << n_rows << " dim=" << dim);
    const float eps = 1e-5f;
    const std::vector<float> x = test::RandomFloats(n_rows * dim, seed++);
    const std::vector<float> weight_values = test::RandomWeightValues(dim, seed++);
    const StoredWeight weight(weight_values, GetParam(), {dim});

    std::vector<double> expected(n_rows * dim);
    for (int64_t r = 0; r < n_rows; ++r) {
      double mean_square = 0;
      for (int64_t c = 0; c < dim; ++c) mean_square += std::pow(x[r * dim + c], 2) / dim;
      const double rms = std::sqrt(mean_square + eps);
      for (int64_t c = 0; c < dim; ++c) {
        expected[r * dim + c] = weight_values[c] * (x[r * dim + c] / rms);
      }
    }

    std::vector<float> inout = x;
    RmsNorm(inout.data(), weight.tensor(), eps, n_rows, dim, inout.data());
    // Outputs are O(|weight| * 4) at most; fp32 sums of up to 1024 squares stay within 1e-5.
    for (int64_t j = 0; j < n_rows * dim; ++j) {
      ASSERT_NEAR(inout[j], expected[j], 1e-5 * (1 + std::abs(expected[j]))) << "at " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RmsNorm, RmsNormTest, testing::ValuesIn(test::kAllDTypes),
                         test::DTypeTestName);

}  // namespace
}  // namespace tessera::cpu
