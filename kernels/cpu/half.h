// IEEE binary16 and bfloat16 <-> fp32 conversions for the CPU backend.
#pragma once

#include <cstdint>

#include "kernels/tensor.h"

namespace tessera::cpu {

float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);  // round to nearest even; overflow becomes infinity
float BFloat16ToFloat(uint16_t b);
uint16_t FloatToBFloat16(float f);  // round to nearest even; NaN stays NaN

// Converts `n` elements of a weight tensor's storage (`dtype`) to fp32.
void ToFloat(const void* src, DType dtype, int64_t n, float* dst);

}  // namespace tessera::cpu
