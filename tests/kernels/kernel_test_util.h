// Inputs for the CPU kernel tests: random activations, and weights stored in each dtype with
// values every dtype represents exactly, so that one double-precision reference serves all.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/half.h"
#include "kernels/tensor.h"

namespace tessera {

// Shows the dtype's name in GoogleTest messages about parameterized tests.
inline void PrintTo(DType dtype, std::ostream* os) { *os << DTypeName(dtype); }

}  // namespace tessera

namespace tessera::test {

inline constexpr DType kAllDTypes[] = {DType::kF32, DType::kF16, DType::kBF16};

// Names parameterized tests after their dtype: "Matmul/MatmulTest.Random/F16".
inline std::string DTypeTestName(const testing::TestParamInfo<DType>& info) {
  return std::string(DTypeName(info.param));
}

// Uniform in [-1, 1): activations.
inline std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(n);
  for (float& v : values) v = uniform(rng);
  return values;
}

// Multiples of 1/64 in [-2, 2): at most 8 significant bits, exact in F32, F16 and BF16.
inline std::vector<float> RandomWeightValues(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> sixty_fourths(-128, 127);
  std::vector<float> values(n);
  for (float& v : values) v = static_cast<float>(sixty_fourths(rng)) / 64.0f;
  return values;
}

// Owns a weight's storage in `dtype` and the Tensor that views it.
class StoredWeight {
 public:
  StoredWeight(const std::vector<float>& values, DType dtype, std::initializer_list<int64_t> dims)
      : floats_(dtype == DType::kF32 ? values : std::vector<float>()) {
    for (float v : values) {
      if (dtype == DType::kF16) halves_.push_back(cpu::FloatToHalf(v));
      if (dtype == DType::kBF16) halves_.push_back(cpu::FloatToBFloat16(v));
    }
    const void* data = dtype == DType::kF32 ? static_cast<const void*>(floats_.data())
                                            : static_cast<const void*>(halves_.data());
    tensor_ = Tensor(data, dtype, dims);
  }
  StoredWeight(const StoredWeight&) = delete;
  StoredWeight& operator=(const StoredWeight&) = delete;

  const Tensor& tensor() const { return tensor_; }

 private:
  std::vector<float> floats_;     // F32 storage
  std::vector<uint16_t> halves_;  // F16 or BF16 storage
  Tensor tensor_;
};

}  // namespace tessera::test
