// The fp32 dot product inside matmul and attention scores.
#pragma once

#include <cstdint>

namespace tessera::cpu {

inline float Dot(const float* a, const float* b, int64_t n) {
  float sum = 0;
  // Lets the compiler split the sum across vector lanes (a reassociation it may not do alone).
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace tessera::cpu
