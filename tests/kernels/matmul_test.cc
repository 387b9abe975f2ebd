// Matmul (y = x @ w^T) for every weight dtype: a hand-computed product, and awkward shapes
// against a double-precision reference that walks the reduction dimension outermost.
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera::cpu {
namespace {

using test::StoredWeight;

class MatmulTest : public testing::TestWithParam<DType> {};

TEST_P(MatmulTest, MultipliesByTransposedWeight) {
  const std::vector<float> x = {1, 2,   // [2, 2]
                                3, 4};
  const StoredWeight w({1, 0,  // [3, 2]
                        0, 1,
                        1, -0.5f},
                       GetParam(), {3, 2});
  std::vector<float> y(6);  // [2, 3]
  Matmul(x.data(), w.tensor(), 2, y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 2, 0,  //
                                   3, 4, 1}));
}

struct MatmulShape {
  int64_t m, n, k;
};

TEST_P(MatmulTest, MatchesDoublePrecisionReference) {
  const MatmulShape shapes[] = {{1, 1, 1},   {1, 37, 53},  {1, 256, 257}, {3, 65, 129},
                                {7, 130, 300}, {16, 17, 1000}, {33, 5, 64}};
  uint32_t seed = 1;
  for (const MatmulShape& s : shapes) {
    SCOPED_TRACE(testing::Message() << "m=" << s.m << " n=" << s.n << " k=" << s.k);
    const std::vector<float> x = test::RandomFloats(s.m * s.k, seed++);          // [m, k]
    const std::vector<float> w_values = test::RandomWeightValues(s.n * s.k, seed++);  // [n, k]
    const StoredWeight w(w_values, GetParam(), {s.n, s.k});

    // Reduction index outermost, accumulating whole output rows in double; also sums |terms|
    // for the error bound.
    std::vector<double> expected(s.m * s.n, 0.0), magnitude(s.m * s.n, 0.0);
    for (int64_t i = 0; i < s.k; ++i) {
      for (int64_t r = 0; r < s.m; ++r) {
        for (int64_t c = 0; c < s.n; ++c) {
          const double term = static_cast<double>(x[r * s.k + i]) * w_values[c * s.k + i];
          expected[r * s.n + c] += term;
          magnitude[r * s.n + c] += std::abs(term);
        }
      }
    }

    std::vector<float> y(s.m * s.n);
    Matmul(x.data(), w.tensor(), s.m, y.data());
    // fp32 accumulation: error within a few ulps of fp32 times sum |terms| (k <= 1000 here).
    for (int64_t j = 0; j < s.m * s.n; ++j) {
      ASSERT_NEAR(y[j], expected[j], 1e-5 * magnitude[j] + 1e-7) << "at " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Matmul, MatmulTest, testing::ValuesIn(test::kAllDTypes),
                         test::DTypeTestName);

// Each output is computed by exactly one thread, so the thread count must not change a bit.
TEST(MatmulThreadsTest, ResultDoesNotDependOnThreadCount) {
  const int64_t m = 5, n = 301, k = 77;
  const std::vector<float> x = test::RandomFloats(m * k, 7);
  const StoredWeight w(test::RandomWeightValues(n * k, 8), DType::kF16, {n, k});
  const int default_threads = ThreadCount();

  SetThreadCount(1);
  std::vector<float> y_one_thread(m * n);
  Matmul(x.data(), w.tensor(), m, y_one_thread.data());
  SetThreadCount(3);
  std::vector<float> y_three_threads(m * n);
  Matmul(x.data(), w.tensor(), m, y_three_threads.data());
  SetThreadCount(default_threads);

  EXPECT_EQ(y_one_thread, y_three_threads);
}

}  // namespace
}  // namespace tessera::cpu
