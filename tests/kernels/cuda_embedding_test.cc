// The CUDA embedding gather against the CPU backend's, for every table dtype.
#if TESSERA_HAVE_CUDA

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/embedding.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

class CudaEmbeddingTest : public testing::TestWithParam<DType> {};

// A gather widens stored values: both backends must agree exactly.
TEST_P(CudaEmbeddingTest, MatchesCpuExactly) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  constexpr int64_t kVocab = 37;
  constexpr int64_t kDim = 133;
  const test::StoredWeight table(test::RandomWeightValues(kVocab * kDim, 3), GetParam(),
                                 {kVocab, kDim});
  const std::vector<int32_t> ids = {5, 0, 36, 5, 17};
  const int64_t n_ids = static_cast<int64_t>(ids.size());
  std::vector<float> expected(n_ids * kDim);
  cpu::EmbeddingGather(table.tensor(), ids.data(), n_ids, expected.data());

  cuda::DeviceBuffer<char> table_device;
  ASSERT_EQ(table_device.Allocate(table.tensor().bytes()), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(table_device.data(), table.tensor().data, table.tensor().bytes(),
                       cudaMemcpyHostToDevice),
            cudaSuccess);
  auto ids_device = test::ToDevice(ids);
  auto out = test::PoisonedOutput(n_ids * kDim);
  ASSERT_EQ(cuda::EmbeddingGather(table_device.data(), GetParam(), kVocab, kDim,
                                  ids_device.data(), n_ids, out.data(), nullptr),
            cudaSuccess);
  EXPECT_EQ(test::ToHost(out), expected);
}

TEST_P(CudaEmbeddingTest, OutOfRangeIdGivesNaNRow) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  constexpr int64_t kVocab = 4;
  constexpr int64_t kDim = 3;
  const test::StoredWeight table(test::RandomWeightValues(kVocab * kDim, 4), GetParam(),
                                 {kVocab, kDim});
  cuda::DeviceBuffer<char> table_device;
  ASSERT_EQ(table_device.Allocate(table.tensor().bytes()), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(table_device.data(), table.tensor().data, table.tensor().bytes(),
                       cudaMemcpyHostToDevice),
            cudaSuccess);
  auto ids_device = test::ToDevice(std::vector<int32_t>{kVocab, -1});
  auto out = test::ToDevice(std::vector<float>(2 * kDim, 0.0f));
  ASSERT_EQ(cuda::EmbeddingGather(table_device.data(), GetParam(), kVocab, kDim,
                                  ids_device.data(), 2, out.data(), nullptr),
            cudaSuccess);
  for (float value : test::ToHost(out)) EXPECT_TRUE(std::isnan(value));
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaEmbeddingTest, testing::ValuesIn(test::kAllDTypes),
                         test::DTypeTestName);

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
