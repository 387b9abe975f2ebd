// fp16 / bf16 conversions against the IEEE 754 binary16 and bfloat16 bit layouts: known
// encodings, an independent decoder built from the definition, and every rounding tie.
#include "kernels/cpu/half.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace tessera::cpu {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// binary16 by its definition: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m when e == 0.
double DecodeHalfByDefinition(uint16_t h) {
  const int sign = (h & 0x8000) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa == 0 ? sign * HUGE_VAL : std::nan("");
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

bool IsHalfNan(uint16_t h) { return (h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0; }

TEST(HalfTest, DecodesKnownPatterns) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);                   // largest finite
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(HalfToFloat(0x7C00), kInf);
  EXPECT_EQ(HalfToFloat(0xFC00), -kInf);
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0xFC01)));
  EXPECT_EQ(HalfToFloat(0x8000), 0.0f);
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
}

TEST(HalfTest, DecodesEveryPatternAsTheDefinitionSays) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const auto half = static_cast<uint16_t>(h);
    const float decoded = HalfToFloat(half);
    if (IsHalfNan(half)) {
      EXPECT_TRUE(std::isnan(decoded)) << std::hex << h;
    } else {
      EXPECT_EQ(static_cast<double>(decoded), DecodeHalfByDefinition(half)) << std::hex << h;
      EXPECT_EQ(std::signbit(decoded), (h & 0x8000) != 0) << std::hex << h;
    }
  }
}

TEST(HalfTest, EncodesKnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(kInf), 0x7C00);
  EXPECT_EQ(FloatToHalf(-kInf), 0xFC00);
  EXPECT_TRUE(IsHalfNan(FloatToHalf(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload sits only in the low fp32 bits must not turn into infinity.
  EXPECT_TRUE(IsHalfNan(FloatToHalf(std::bit_cast<float>(0x7F800001u))));
}

TEST(HalfTest, EncodesOverflowAsInfinity) {
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7BFF);  // below the midpoint to 2^16
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // the midpoint: ties to the even "next" = inf
  EXPECT_EQ(FloatToHalf(1e6f), 0x7C00);
  EXPECT_EQ(FloatToHalf(-1e30f), 0xFC00);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::max()), 0x7C00);
}

TEST(HalfTest, RoundsTiesToEven) {
  // 1 + 2^-11 lies halfway between 0x3C00 (even) and 0x3C01.
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  // 1 + 3 * 2^-11 lies halfway between 0x3C01 and 0x3C02 (even).
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  // Just above a tie rounds up.
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);
  // Subnormal ties: 2^-25 is halfway between 0 and 0x0001; 3 * 2^-25 between 0x0001 and 0x0002.
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25) * 1.001f), 0x0001);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -26)), 0x0000);
  // Halfway between the largest subnormal (0x03FF) and the smallest normal (0x0400, even).
  EXPECT_EQ(FloatToHalf(std::ldexp(2047.0f, -25)), 0x0400);
}

// Every midpoint between two adjacent finite halves (exact in fp32) must go to the one with
// an even mantissa, and points just inside must go to the nearer one.
TEST(HalfTest, RoundsEveryMidpointToEven) {
  for (uint16_t lower = 0; lower < 0x7BFF; ++lower) {
    const auto upper = static_cast<uint16_t>(lower + 1);
    const double low = DecodeHalfByDefinition(lower);
    const double high = DecodeHalfByDefinition(upper);
    const auto midpoint = static_cast<float>((low + high) / 2);
    ASSERT_EQ(static_cast<double>(midpoint), (low + high) / 2);
    const uint16_t even = (lower & 1) ? upper : lower;
    EXPECT_EQ(FloatToHalf(midpoint), even) << std::hex << lower;
    EXPECT_EQ(FloatToHalf(-midpoint), even | 0x8000) << std::hex << lower;
    EXPECT_EQ(FloatToHalf(std::nextafter(midpoint, 0.0f)), lower) << std::hex << lower;
    EXPECT_EQ(FloatToHalf(std::nextafter(midpoint, kInf)), upper) << std::hex << lower;
  }
}

TEST(HalfTest, RoundTripsEveryPattern) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const auto half = static_cast<uint16_t>(h);
    if (IsHalfNan(half)) {
      EXPECT_TRUE(IsHalfNan(FloatToHalf(HalfToFloat(half)))) << std::hex << h;
    } else {
      EXPECT_EQ(FloatToHalf(HalfToFloat(half)), half) << std::hex << h;
    }
  }
}

TEST(HalfTest, BFloat16DecodesKnownPatterns) {
  EXPECT_EQ(BFloat16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(BFloat16ToFloat(0xC000), -2.0f);
  EXPECT_EQ(BFloat16ToFloat(0x3EAB), 0.333984375f);
  EXPECT_EQ(BFloat16ToFloat(0x7F80), kInf);
  EXPECT_EQ(BFloat16ToFloat(0xFF80), -kInf);
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(0x7FC0)));
  EXPECT_EQ(BFloat16ToFloat(0x0001), std::ldexp(1.0f, -133));  // smallest subnormal
}

TEST(HalfTest, BFloat16EncodesRoundingTiesToEven) {
  EXPECT_EQ(FloatToBFloat16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBFloat16(-2.0f), 0xC000);
  // 1 + 2^-8 is halfway between 0x3F80 (even) and 0x3F81; 1 + 3 * 2^-8 between 0x3F81, 0x3F82.
  EXPECT_EQ(FloatToBFloat16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(FloatToBFloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_EQ(FloatToBFloat16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_EQ(FloatToBFloat16(1.0f / 3.0f), 0x3EAB);
  EXPECT_EQ(FloatToBFloat16(kInf), 0x7F80);
  EXPECT_EQ(FloatToBFloat16(-kInf), 0xFF80);
  // fp32 max is past the midpoint between the largest finite bf16 and 2^128.
  EXPECT_EQ(FloatToBFloat16(std::numeric_limits<float>::max()), 0x7F80);
}

TEST(HalfTest, BFloat16KeepsNan) {
  const uint16_t quiet = FloatToBFloat16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(quiet)));
  // Payload only in the dropped bits: plain rounding or truncation would give infinity.
  const uint16_t low_payload = FloatToBFloat16(std::bit_cast<float>(0xFFFFFFFFu));
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(low_payload)));
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(std::bit_cast<float>(0x7F800001u)))));
}

TEST(HalfTest, ToFloatConvertsEachDType) {
  const std::vector<float> f32 = {1.0f, -2.5f, 0.0f};
  const std::vector<uint16_t> f16 = {0x3C00, 0xC100, 0x7BFF};
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC020, 0x0000};
  std::vector<float> out(3);

  ToFloat(f32.data(), DType::kF32, 3, out.data());
  EXPECT_EQ(out, f32);
  ToFloat(f16.data(), DType::kF16, 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{1.0f, -2.5f, 65504.0f}));
  ToFloat(bf16.data(), DType::kBF16, 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{1.0f, -2.5f, 0.0f}));
}

}  // namespace
}  // namespace tessera::cpu
