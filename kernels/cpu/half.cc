// Conversions between fp32 and the two 16-bit float formats model files store weights in:
// IEEE binary16 (1 sign, 5 exponent, 10 mantissa bits) and bfloat16 (the top half of an fp32).
// Encoding rounds with integer bit operations; decoding is branch-free so the widening loops in
// ToFloat vectorize, and relies on one exact fp32 multiply (so it assumes the default floating
// point mode, where subnormals are not flushed to zero).
#include "kernels/cpu/half.h"

#include <bit>
#include <cstring>

namespace tessera::cpu {
namespace {

constexpr uint32_t kF32SignMask = 0x80000000u;
constexpr uint32_t kF32ExponentMask = 0x7F800000u;
constexpr uint16_t kF16SignMask = 0x8000u;
constexpr uint16_t kF16ExponentMask = 0x7C00u;
constexpr uint16_t kF16QuietNanBit = 0x0200u;
constexpr uint16_t kBF16QuietNanBit = 0x0040u;

// value >> shift, rounded to nearest with ties to even; 1 <= shift <= 31.
uint32_t ShiftRightRoundingToEven(uint32_t value, int shift) {
  const uint32_t kept = value >> shift;
  const uint32_t dropped = value & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  const bool round_up = dropped > halfway || (dropped == halfway && (kept & 1u));
  return kept + (round_up ? 1u : 0u);
}

}  // namespace

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & kF16SignMask) << 16;
  // Exponent and mantissa moved to their fp32 positions read as an fp32 whose exponent bias is
  // 127 instead of 15, i.e. the value times 2^-112; multiplying by 2^112 fixes the bias and also
  // turns half subnormals (exponent 0) into the right normal fp32, exactly.
  const uint32_t shifted = static_cast<uint32_t>(h & ~kF16SignMask) << 13;
  const uint32_t rescaled = std::bit_cast<uint32_t>(std::bit_cast<float>(shifted) * 0x1p112f);
  // Infinity and NaN come out of the product with exponent 31 + 112 and their mantissa intact;
  // setting every exponent bit restores them. A select rather than a branch keeps the
  // conversion loops vectorizable.
  const bool inf_or_nan = (h & kF16ExponentMask) == kF16ExponentMask;
  const uint32_t exponent_fill = inf_or_nan ? kF32ExponentMask : 0u;
  return std::bit_cast<float>(sign | rescaled | exponent_fill);
}

uint16_t FloatToHalf(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((bits & kF32SignMask) >> 16);
  const uint32_t magnitude = bits & ~kF32SignMask;
  if (magnitude > kF32ExponentMask) {  // NaN: keep the top of the payload, force it quiet
    const auto payload = static_cast<uint16_t>((magnitude >> 13) & 0x03FFu);
    return sign | kF16ExponentMask | kF16QuietNanBit | payload;
  }
  const int exponent = static_cast<int>(magnitude >> 23) - 127;  // unbiased
  if (exponent > 15) return sign | kF16ExponentMask;              // too large, or infinity
  if (exponent >= -14) {
    // Normal half: rebias the exponent in place and drop 13 mantissa bits. A rounding carry
    // runs into the exponent, which is what we want; past 65504 it reaches infinity (0x7C00).
    const uint32_t rebiased = magnitude - ((127u - 15u) << 23);
    return sign | static_cast<uint16_t>(ShiftRightRoundingToEven(rebiased, 13));
  }
  if (exponent < -25) return sign;  // below half the smallest subnormal (2^-24): zero
  // Subnormal half, counted in units of 2^-24: (1.mantissa * 2^23) * 2^(exponent - 23 + 24).
  // Rounding up from the largest subnormal gives 0x0400, the smallest normal, as it should.
  const uint32_t significand = (magnitude & 0x007FFFFFu) | 0x00800000u;
  return sign | static_cast<uint16_t>(ShiftRightRoundingToEven(significand, -exponent - 1));
}

float BFloat16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t FloatToBFloat16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  // Rounding a NaN could carry into the exponent and produce infinity; truncate it instead.
  if ((bits & ~kF32SignMask) > kF32ExponentMask) {
    return static_cast<uint16_t>(bits >> 16) | kBF16QuietNanBit;
  }
  return static_cast<uint16_t>(ShiftRightRoundingToEven(bits, 16));
}

void ToFloat(const void* src, DType dtype, int64_t n, float* dst) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16: {
      const auto* halves = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = HalfToFloat(halves[i]);
      return;
    }
    case DType::kBF16: {
      const auto* bfloats = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = BFloat16ToFloat(bfloats[i]);
      return;
    }
  }
}

}  // namespace tessera::cpu
