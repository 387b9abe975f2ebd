// EmbeddingGather for every table dtype: rows come back in id order, exactly.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera::cpu {
namespace {

using test::StoredWeight;

class EmbeddingTest : public testing::TestWithParam<DType> {};

TEST_P(EmbeddingTest, GathersRowsInIdOrder) {
  const StoredWeight table({0.5f, -1,  // [3, 2]
                            2, 3,
                            -4, 0.25f},
                           GetParam(), {3, 2});
  const std::vector<int32_t> ids = {2, 0, 2};
  std::vector<float> out(6);  // [3, 2]
  EmbeddingGather(table.tensor(), ids.data(), 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{-4, 0.25f, 0.5f, -1, -4, 0.25f}));
}

TEST_P(EmbeddingTest, GathersRandomIdsFromOddSizedTable) {
  const int64_t vocab = 51, dim = 33, n_ids = 40;
  const std::vector<float> values = test::RandomWeightValues(vocab * dim, 3);  // [vocab, dim]
  const StoredWeight table(values, GetParam(), {vocab, dim});
  std::vector<int32_t> ids(n_ids);
  for (int64_t i = 0; i < n_ids; ++i) ids[i] = static_cast<int32_t>((i * 37 + 5) % vocab);
  ids.back() = static_cast<int32_t>(vocab - 1);  // the last row, against an off-by-one

  std::vector<float> out(n_ids * dim);
  EmbeddingGather(table.tensor(), ids.data(), n_ids, out.data());
  // The values are exact in every dtype, so the gather must reproduce them bit for bit.
  for (int64_t i = 0; i < n_ids; ++i) {
    for (int64_t c = 0; c < dim; ++c) {
      ASSERT_EQ(out[i * dim + c], values[ids[i] * dim + c]) << "id " << ids[i] << " dim " << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Embedding, EmbeddingTest, testing::ValuesIn(test::kAllDTypes),
                         test::DTypeTestName);

}  // namespace
}  // namespace tessera::cpu
