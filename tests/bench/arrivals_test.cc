// The open loop's Poisson schedule: the inverse-CDF gap against values worked out by hand, and a
// long schedule against the exponential distribution's moments and tail.
#include "bench/load/arrivals.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace tessera::load {
namespace {

TEST(ExponentialGapTest, InvertsTheCdf) {
  // F(t) = 1 - exp(-rate t), so t = -ln(1 - u) / rate.
  EXPECT_DOUBLE_EQ(ExponentialGap(0.0, 4), 0);
  EXPECT_DOUBLE_EQ(ExponentialGap(0.5, 2), std::log(2.0) / 2);    // the median, ln 2 / rate
  EXPECT_DOUBLE_EQ(ExponentialGap(1 - std::exp(-1.0), 10), 0.1);  // the mean, 1 / rate
  EXPECT_NEAR(ExponentialGap(0.99, 1), std::log(100.0), 1e-12);
}

TEST(PoissonArrivalsTest, TimesIncreaseAndTheSeedFixesThem) {
  PoissonArrivals a(5, 42);
  PoissonArrivals b(5, 42);
  PoissonArrivals other(5, 43);
  double last = 0;
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const double t = a.Next();
    EXPECT_GT(t, last);
    EXPECT_EQ(t, b.Next());
    differs |= t != other.Next();
    last = t;
  }
  EXPECT_TRUE(differs);
}

TEST(PoissonArrivalsTest, GapsAreExponentialWithMeanOneOverTheRate) {
  constexpr double kRate = 8;
  constexpr int kArrivals = 200000;
  PoissonArrivals arrivals(kRate, 7);
  std::vector<double> gaps;
  double last = 0;
  for (int i = 0; i < kArrivals; ++i) {
    const double t = arrivals.Next();
    gaps.push_back(t - last);
    last = t;
  }
  double sum = 0;
  for (const double g : gaps) sum += g;
  const double mean = sum / kArrivals;
  double squares = 0;
  int beyond_mean = 0;
  int beyond_three_means = 0;
  for (const double g : gaps) {
    squares += (g - mean) * (g - mean);
    beyond_mean += g > 1 / kRate;
    beyond_three_means += g > 3 / kRate;
  }
  const double sd = std::sqrt(squares / (kArrivals - 1));
  // Mean and standard deviation both 1 / rate = 0.125 s; the mean's standard error is
  // 0.125 / sqrt(200000) = 0.00028, so 0.002 is a seven-sigma bound.
  EXPECT_NEAR(mean, 0.125, 0.002);
  EXPECT_NEAR(sd, 0.125, 0.003);
  // P(gap > k / rate) = exp(-k): 0.3679 and 0.0498.
  EXPECT_NEAR(static_cast<double>(beyond_mean) / kArrivals, std::exp(-1.0), 0.01);
  EXPECT_NEAR(static_cast<double>(beyond_three_means) / kArrivals, std::exp(-3.0), 0.005);
  // So the arrivals come at the rate: 200000 of them take about 25000 s.
  EXPECT_NEAR(last / kArrivals, 1 / kRate, 0.002);
}

}  // namespace
}  // namespace tessera::load
