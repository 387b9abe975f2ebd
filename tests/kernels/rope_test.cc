// Rope in both pairing styles: a unit vector turned by a known angle, which dimensions pair up,
// untouched dimensions past rotary_dim, the relative-position property, LongRoPE's scale on a
// known vector, and random inputs against a complex-number reference in double precision.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera::cpu {
namespace {

constexpr float kHalfPi = std::numbers::pi_v<float> / 2;

TEST(RopeTest, TurnsUnitVectorByPositionTimesFrequency) {
  // Position 3, inv_freq 0.5: angle 1.5 rad; cos 1.5 = 0.0707372017, sin 1.5 = 0.9974949866.
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    std::vector<float> x = {1, 0};  // [1 token, 1 head, head_dim 2]
    const int32_t position = 3;
    const float inv_freq = 0.5f;
    Rope(x.data(), &position, 1, 1, 2, 2, &inv_freq, style, 1.0f);
    EXPECT_NEAR(x[0], 0.0707372017f, 1e-6f);
    EXPECT_NEAR(x[1], 0.9974949866f, 1e-6f);
  }
}

TEST(RopeTest, PositionZeroLeavesVectorUnchanged) {
  const std::vector<float> original = test::RandomFloats(2 * 8, 5);  // [1 token, 2 heads, 8]
  const std::vector<float> inv_freq = {1, 0.5f, 0.25f, 0.125f};
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    std::vector<float> x = original;
    const int32_t position = 0;
    Rope(x.data(), &position, 1, 2, 8, 8, inv_freq.data(), style, 1.0f);
    EXPECT_EQ(x, original);
  }
}

// head_dim 4 = [1, 2, 3, 4]; pair 0 turns by 90 degrees, pair 1 by 180 degrees.
TEST(RopeTest, AdjacentPairsRotatesNeighbours) {
  std::vector<float> x = {1, 2, 3, 4};
  const int32_t position = 1;
  const std::vector<float> inv_freq = {kHalfPi, 2 * kHalfPi};
  Rope(x.data(), &position, 1, 1, 4, 4, inv_freq.data(), RopeStyle::kAdjacentPairs, 1.0f);
  // (1, 2) -> (-2, 1); (3, 4) -> (-3, -4).
  const std::vector<float> expected = {-2, 1, -3, -4};
  for (int d = 0; d < 4; ++d) EXPECT_NEAR(x[d], expected[d], 1e-6f) << "dim " << d;
}

TEST(RopeTest, HalvesRotatesAcrossTheHalves) {
  std::vector<float> x = {1, 2, 3, 4};
  const int32_t position = 1;
  const std::vector<float> inv_freq = {kHalfPi, 2 * kHalfPi};
  Rope(x.data(), &position, 1, 1, 4, 4, inv_freq.data(), RopeStyle::kHalves, 1.0f);
  // (x0, x2) = (1, 3) -> (-3, 1); (x1, x3) = (2, 4) -> (-2, -4).
  const std::vector<float> expected = {-3, -2, 1, -4};
  for (int d = 0; d < 4; ++d) EXPECT_NEAR(x[d], expected[d], 1e-6f) << "dim " << d;
}

TEST(RopeTest, LeavesDimensionsPastRotaryDimUntouched) {
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    const int n_heads = 3, head_dim = 6, rotary_dim = 4;
    const std::vector<float> original = test::RandomFloats(2 * n_heads * head_dim, 6);
    std::vector<float> x = original;  // [2 tokens, 3 heads, 6]
    const std::vector<int32_t> positions = {4, 9};
    const std::vector<float> inv_freq = {1, 0.1f};
    Rope(x.data(), positions.data(), 2, n_heads, head_dim, rotary_dim, inv_freq.data(), style,
         1.0f);
    for (int row = 0; row < 2 * n_heads; ++row) {
      EXPECT_NE(x[row * head_dim], original[row * head_dim]);
      EXPECT_EQ(x[row * head_dim + 4], original[row * head_dim + 4]);
      EXPECT_EQ(x[row * head_dim + 5], original[row * head_dim + 5]);
    }
  }
}

// (3, 4) turned by 90 degrees is (-4, 3); scale 1.5 stretches it to (-6, 4.5). Dims past
// rotary_dim keep their values: the scale multiplies cos and sin, not the head.
TEST(RopeTest, ScaleStretchesTheRotatedPairOnly) {
  const int32_t position = 1;
  const float inv_freq = kHalfPi;
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    std::vector<float> x = {3, 4, 7, -2};  // [1 token, 1 head, head_dim 4], rotary_dim 2
    Rope(x.data(), &position, 1, 1, 4, 2, &inv_freq, style, 1.5f);
    EXPECT_NEAR(x[0], -6.0f, 1e-6f);
    EXPECT_NEAR(x[1], 4.5f, 1e-6f);
    EXPECT_EQ(x[2], 7.0f);
    EXPECT_EQ(x[3], -2.0f);
  }
}

// At position 0 there is no turn left, only the scale: x becomes scale * x.
TEST(RopeTest, ScaleAtPositionZeroMultipliesTheRotaryDims) {
  const std::vector<float> inv_freq = {1, 0.5f};
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    std::vector<float> x = {1, -2, 0.5f, 4, 9};  // [1 token, 1 head, head_dim 5], rotary_dim 4
    const int32_t position = 0;
    Rope(x.data(), &position, 1, 1, 5, 4, inv_freq.data(), style, 0.25f);
    EXPECT_EQ(x, (std::vector<float>{0.25f, -0.5f, 0.125f, 1, 9}));
  }
}

// The point of rope: q.k after rotation depends only on the distance between the positions.
TEST(RopeTest, DotProductDependsOnlyOnDistance) {
  const int head_dim = 16;
  std::vector<float> inv_freq(head_dim / 2);
  for (int i = 0; i < head_dim / 2; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * i / head_dim);
  const std::vector<float> q = test::RandomFloats(head_dim, 7);
  const std::vector<float> k = test::RandomFloats(head_dim, 8);
  auto rotated_dot = [&](int32_t q_position, int32_t k_position, RopeStyle style) {
    std::vector<float> q_rot = q, k_rot = k;
    Rope(q_rot.data(), &q_position, 1, 1, head_dim, head_dim, inv_freq.data(), style, 1.0f);
    Rope(k_rot.data(), &k_position, 1, 1, head_dim, head_dim, inv_freq.data(), style, 1.0f);
    double dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += static_cast<double>(q_rot[d]) * k_rot[d];
    return dot;
  };
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    EXPECT_NEAR(rotated_dot(12, 5, style), rotated_dot(7, 0, style), 1e-5);
    EXPECT_NEAR(rotated_dot(30, 30, style), rotated_dot(0, 0, style), 1e-5);
  }
}

// Pair i of a head as the complex number (first + i*second), multiplied by scale * e^(i*angle),
// with the angle formed in fp32 as the kernel's contract says and everything else in double.
std::vector<double> ReferenceRope(const std::vector<float>& x,
                                  const std::vector<int32_t>& positions, int n_heads, int head_dim,
                                  int rotary_dim, const std::vector<float>& inv_freq,
                                  RopeStyle style, float scale) {
  std::vector<double> out(x.begin(), x.end());
  const int half = rotary_dim / 2;
  for (size_t t = 0; t < positions.size(); ++t) {
    for (int h = 0; h < n_heads; ++h) {
      const size_t base = (t * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const size_t first = base + (style == RopeStyle::kHalves ? i : 2 * i);
        const size_t second = first + (style == RopeStyle::kHalves ? half : 1);
        const float angle = static_cast<float>(positions[t]) * inv_freq[i];
        const std::complex<double> turned =
            std::complex<double>(x[first], x[second]) * std::polar(double{scale}, double{angle});
        out[first] = turned.real();
        out[second] = turned.imag();
      }
    }
  }
  return out;
}

struct RopeCase {
  int n_heads, head_dim, rotary_dim;
  std::vector<int32_t> positions;
};

TEST(RopeTest, MatchesComplexReference) {
  const RopeCase cases[] = {{1, 2, 2, {1}},
                            {4, 64, 64, {0, 1, 2, 3, 4}},
                            {3, 10, 6, {17, 3, 4095}},
                            {2, 128, 64, {100000}}};
  for (const RopeCase& c : cases) {
    std::vector<float> inv_freq(c.rotary_dim / 2);
    for (int i = 0; i < c.rotary_dim / 2; ++i) {
      inv_freq[i] = std::pow(10000.0f, -2.0f * i / c.rotary_dim);
    }
    // 1: plain rotation; 1.1902: LongRoPE's sqrt(1 + ln(32) / ln(4096)) for a 32x longer
    // context; 0.5 shrinks.
    for (float scale : {1.0f, 1.1902f, 0.5f}) {
      for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
        SCOPED_TRACE(testing::Message() << "heads=" << c.n_heads << " head_dim=" << c.head_dim
                                        << " rotary_dim=" << c.rotary_dim << " scale=" << scale
                                        << " halves=" << (style == RopeStyle::kHalves));
        const auto n_tokens = static_cast<int64_t>(c.positions.size());
        std::vector<float> x = test::RandomFloats(n_tokens * c.n_heads * c.head_dim, 9);
        const std::vector<double> expected = ReferenceRope(
            x, c.positions, c.n_heads, c.head_dim, c.rotary_dim, inv_freq, style, scale);
        Rope(x.data(), c.positions.data(), n_tokens, c.n_heads, c.head_dim, c.rotary_dim,
             inv_freq.data(), style, scale);
        // Inputs are in [-1, 1); fp32 cos/sin of the same fp32 angle are within a few ulps, and
        // the scale stretches outputs and their rounding alike.
        const double tolerance = 1e-6 * std::max(1.0f, scale);
        for (size_t j = 0; j < x.size(); ++j) {
          ASSERT_NEAR(x[j], expected[j], tolerance) << "at " << j;
        }
      }
    }
  }
}

}  // namespace
}  // namespace tessera::cpu
