// Inputs for the CPU kernel tests: random activations, and weights stored in each dtype with
// values every dtype represents exactly, so that one double-precision reference serves all.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <numeric>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/kv_blocks.h"
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

// Paged KV caches (kernels/kv_blocks.h) for attention tests.

// The blocks of `positions` positions, in a pool twice as large, in random order: a kernel that
// mixes up positions, or reads a row outside its table, is caught.
inline std::vector<int32_t> ShuffledBlockTable(int64_t positions, uint32_t seed) {
  const int64_t n_blocks = KvBlocksFor(positions);
  std::vector<int32_t> pool(2 * n_blocks);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), std::mt19937(seed));
  pool.resize(n_blocks);
  return pool;
}

// Blocks in position order, as a contiguous cache would be.
inline std::vector<int32_t> InOrderBlockTable(int64_t positions) {
  std::vector<int32_t> table(KvBlocksFor(positions));
  std::iota(table.begin(), table.end(), 0);
  return table;
}

// `rows` ([n, row_values], position order) scattered into a pool of blocks as `block_table`
// places them; the pool's other rows are NaN, so that reading one poisons a result.
inline std::vector<float> ToBlocks(const std::vector<float>& rows, int64_t row_values,
                                   std::span<const int32_t> block_table) {
  const int64_t n = static_cast<int64_t>(rows.size()) / row_values;
  const int64_t n_blocks =
      block_table.empty() ? 0 : *std::max_element(block_table.begin(), block_table.end()) + 1;
  std::vector<float> pool(n_blocks * kKvBlockTokens * row_values, NAN);
  for (int64_t p = 0; p < n; ++p) {
    std::copy_n(rows.begin() + p * row_values, row_values,
                pool.begin() + KvRow(block_table.data(), p) * row_values);
  }
  return pool;
}

// The first `n` positions' rows of a pool of blocks, in position order: ToBlocks reversed.
inline std::vector<float> FromBlocks(const std::vector<float>& pool, int64_t row_values,
                                     std::span<const int32_t> block_table, int64_t n) {
  std::vector<float> rows(n * row_values);
  for (int64_t p = 0; p < n; ++p) {
    std::copy_n(pool.begin() + KvRow(block_table.data(), p) * row_values, row_values,
                rows.begin() + p * row_values);
  }
  return rows;
}

}  // namespace tessera::test
