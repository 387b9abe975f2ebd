// The CUDA rotary embedding with its KV store against the CPU backend's Rope, for both pairings,
// partial rotation and LongRoPE's scale: q rotated in place (packed rows) or into a buffer of its
// own (each token's q, k and v side by side in one row, as one product of stacked weights leaves
// them), k rotated and v copied into the cache rows of the tokens' positions (fp32, or rounded to a
// 16-bit cache), which a shuffled block table places in a pool of blocks, and no other position's
// row touched.
#if TESSERA_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/rope.h"
#include "kernels/kv_blocks.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// fp32; sincosf and std::cos/sin of the same fp32 angle differ by an ulp or two.
constexpr double kTolerance = 1e-5;
// Keys stored in a 16-bit cache: an ulp of difference before rounding may move an element to the
// neighbouring 16-bit value, rarely; truncating instead of rounding would err about 2e-3.
constexpr double kSixteenBitTolerance = 1e-3;

struct RopeCase {
  int n_heads;
  int n_kv_heads;
  int head_dim;
  int rotary_dim;
};

bool IsOneOf(int64_t row, const std::vector<int32_t>& rows) {
  return std::find(rows.begin(), rows.end(), row) != rows.end();
}

// The rows of a [*, width] array at `rows`, in that order.
std::vector<float> RowsAt(const std::vector<float>& array, const std::vector<int32_t>& rows,
                          int64_t width) {
  std::vector<float> picked;
  for (int32_t row : rows) {
    picked.insert(picked.end(), array.begin() + row * width, array.begin() + (row + 1) * width);
  }
  return picked;
}

// Every other row.
std::vector<float> WithoutRowsAt(const std::vector<float>& array, const std::vector<int32_t>& rows,
                                 int64_t width) {
  std::vector<float> rest;
  for (int64_t row = 0; row * width < static_cast<int64_t>(array.size()); ++row) {
    if (IsOneOf(row, rows)) continue;
    rest.insert(rest.end(), array.begin() + row * width, array.begin() + (row + 1) * width);
  }
  return rest;
}

// Each token's row of q, then its row of k, then of v, one after another.
std::vector<float> SideBySide(const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, int64_t n_tokens) {
  const int64_t q_dim = static_cast<int64_t>(q.size()) / n_tokens;
  const int64_t kv_dim = static_cast<int64_t>(k.size()) / n_tokens;
  std::vector<float> rows;
  for (int64_t t = 0; t < n_tokens; ++t) {
    rows.insert(rows.end(), q.begin() + t * q_dim, q.begin() + (t + 1) * q_dim);
    rows.insert(rows.end(), k.begin() + t * kv_dim, k.begin() + (t + 1) * kv_dim);
    rows.insert(rows.end(), v.begin() + t * kv_dim, v.begin() + (t + 1) * kv_dim);
  }
  return rows;
}

class CudaRopeTest : public testing::TestWithParam<cpu::RopeStyle> {};

TEST_P(CudaRopeTest, RotatesQueriesAndStoresKeysAndValuesAtTheirPositions) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (const RopeCase c : {RopeCase{4, 4, 64, 64}, RopeCase{6, 3, 128, 128},
                           RopeCase{5, 1, 80, 32}}) {
    // Not in order and not contiguous: each token's row is found by its position.
    const std::vector<int32_t> positions = {0, 1, 7, 1000, 8191};
    const int64_t n_tokens = static_cast<int64_t>(positions.size());
    const int64_t capacity = 8192;
    const std::vector<int32_t> block_table = test::ShuffledBlockTable(capacity, 13);
    const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
    std::vector<float> inv_freq(c.rotary_dim / 2);
    for (int i = 0; i < c.rotary_dim / 2; ++i) {
      inv_freq[i] = std::pow(10000.0f, -2.0f * i / c.rotary_dim);
    }
    const std::vector<float> q = test::RandomFloats(n_tokens * c.n_heads * c.head_dim, 10);
    const std::vector<float> k = test::RandomFloats(n_tokens * kv_dim, 11);
    const std::vector<float> v = test::RandomFloats(n_tokens * kv_dim, 12);
    // 1: plain rotation; 1.1902: LongRoPE's attention factor for a 32x longer context.
    for (const float scale : {1.0f, 1.1902f}) {
      std::vector<float> expected_q = q;
      std::vector<float> rotated_k = k;
      cpu::Rope(expected_q.data(), positions.data(), n_tokens, c.n_heads, c.head_dim,
                c.rotary_dim, inv_freq.data(), GetParam(), scale);
      cpu::Rope(rotated_k.data(), positions.data(), n_tokens, c.n_kv_heads, c.head_dim,
                c.rotary_dim, inv_freq.data(), GetParam(), scale);
      // [capacity, kv_dim] in position order; positions no token is stored at keep their sentinel.
      constexpr float kUntouched = 123.0f;
      std::vector<float> expected_keys(capacity * kv_dim, kUntouched);
      std::vector<float> expected_values(capacity * kv_dim, kUntouched);
      for (int64_t t = 0; t < n_tokens; ++t) {
        std::copy_n(rotated_k.begin() + t * kv_dim, kv_dim,
                    expected_keys.begin() + positions[t] * kv_dim);
        std::copy_n(v.begin() + t * kv_dim, kv_dim,
                    expected_values.begin() + positions[t] * kv_dim);
      }

      for (const auto& [cache_dtype, side_by_side] :
           {std::pair{DType::kF32, false}, std::pair{DType::kBF16, false},
            std::pair{DType::kF16, false}, std::pair{DType::kF32, true},
            std::pair{DType::kBF16, true}, std::pair{DType::kF16, true}}) {
        const int64_t q_dim = int64_t{c.n_heads} * c.head_dim;
        const int64_t width = q_dim + 2 * kv_dim;
        auto q_device = test::ToDevice(side_by_side ? std::vector<float>(q.size(), kUntouched) : q);
        auto k_device = test::ToDevice(k);
        auto v_device = test::ToDevice(v);
        auto side_by_side_device = test::ToDevice(SideBySide(q, k, v, n_tokens));
        const float* joined = side_by_side_device.data();
        const cuda::ProjectedRows rows =
            side_by_side
                ? cuda::ProjectedRows{joined, joined + q_dim, joined + q_dim + kv_dim, width, width}
                : cuda::ProjectedRows{q_device.data(), k_device.data(), v_device.data(), q_dim,
                                      kv_dim};
        const std::vector<float> untouched =
            test::ToBlocks(std::vector<float>(capacity * kv_dim, kUntouched), kv_dim, block_table);
        test::DeviceValues keys(untouched, cache_dtype);
        test::DeviceValues values(untouched, cache_dtype);
        auto table_device = test::ToDevice(block_table);
        auto view = test::ToDevice(std::vector<cuda::KvCacheView>{
            {keys.data(), values.data(), table_device.data(), /*length=*/0}});
        auto positions_device = test::ToDevice(positions);
        auto inv_freq_device = test::ToDevice(inv_freq);
        ASSERT_EQ(cuda::RopeAndStoreKv(rows, q_device.data(), positions_device.data(), n_tokens,
                                       c.n_heads, c.n_kv_heads, c.head_dim, c.rotary_dim,
                                       inv_freq_device.data(), GetParam(), scale, view.data(),
                                       /*token_views=*/nullptr, cache_dtype, nullptr),
                  cudaSuccess);
        SCOPED_TRACE(testing::Message()
                     << "head_dim=" << c.head_dim << " rotary_dim=" << c.rotary_dim
                     << " scale=" << scale << " cache " << DTypeName(cache_dtype)
                     << (side_by_side ? " q, k and v side by side" : " packed"));
        EXPECT_LT(test::RelativeError(test::ToHost(q_device), expected_q), kTolerance);
        // The stored rows on their own, so that the untouched rows do not dilute their error.
        const std::vector<float> stored_keys =
            test::FromBlocks(keys.ToHostFloats(), kv_dim, block_table, capacity);
        const std::vector<float> rounded_keys = test::RoundedTo(expected_keys, cache_dtype);
        EXPECT_LT(test::RelativeError(RowsAt(stored_keys, positions, kv_dim),
                                      RowsAt(rounded_keys, positions, kv_dim)),
                  cache_dtype == DType::kF32 ? kTolerance : kSixteenBitTolerance);
        EXPECT_EQ(WithoutRowsAt(stored_keys, positions, kv_dim),
                  WithoutRowsAt(rounded_keys, positions, kv_dim));
        EXPECT_EQ(test::FromBlocks(values.ToHostFloats(), kv_dim, block_table, capacity),
                  test::RoundedTo(expected_values, cache_dtype));
      }
    }
  }
}

// Tokens of three sequences in one launch, as a batched step passes them: each token's keys and
// values land in its own sequence's blocks (token_views) of the pool the sequences share, at its
// position there, exactly as a launch per sequence would put them.
TEST(CudaRopeBatchTest, EachTokenGoesToItsOwnSequencesCache) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  constexpr int kHeads = 4, kKvHeads = 2, kHeadDim = 64;
  constexpr int64_t kBlocks = 3;  // a sequence's
  constexpr int64_t kCapacity = kBlocks * kKvBlockTokens, kKvDim = int64_t{kKvHeads} * kHeadDim;
  // Sequence 0 gets positions 15..17 (across a block boundary), sequence 1 position 0, sequence
  // 2 positions 9 and 47.
  const std::vector<int32_t> positions = {15, 16, 17, 0, 9, 47};
  const std::vector<int32_t> sequence_of = {0, 0, 0, 1, 2, 2};
  constexpr int kLayers = 2;  // views of one layer are kLayers apart, as a model lays them out
  std::vector<int32_t> token_views;
  for (const int32_t sequence : sequence_of) token_views.push_back(sequence * kLayers);
  const int64_t n_tokens = static_cast<int64_t>(positions.size());
  std::vector<float> inv_freq(kHeadDim / 2);
  for (int i = 0; i < kHeadDim / 2; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * i / kHeadDim);
  const std::vector<float> q = test::RandomFloats(n_tokens * kHeads * kHeadDim, 20);
  const std::vector<float> k = test::RandomFloats(n_tokens * kKvDim, 21);
  const std::vector<float> v = test::RandomFloats(n_tokens * kKvDim, 22);
  std::vector<float> rotated_k = k;
  cpu::Rope(rotated_k.data(), positions.data(), n_tokens, kKvHeads, kHeadDim, kHeadDim,
            inv_freq.data(), cpu::RopeStyle::kHalves, 1.0f);

  // Sequence s owns the entries [s * kBlocks, (s + 1) * kBlocks) of one shuffled table over the
  // pool.
  const std::vector<int32_t> blocks = test::ShuffledBlockTable(3 * kCapacity, 23);
  const std::vector<float> zeros =
      test::ToBlocks(std::vector<float>(3 * kCapacity * kKvDim, 0.0f), kKvDim, blocks);
  test::DeviceValues keys(zeros, DType::kF32);
  test::DeviceValues values(zeros, DType::kF32);
  auto blocks_device = test::ToDevice(blocks);
  std::vector<cuda::KvCacheView> views(3 * kLayers);
  for (int sequence = 0; sequence < 3; ++sequence) {
    views[sequence * kLayers] = {keys.data(), values.data(),
                                 blocks_device.data() + sequence * kBlocks, /*length=*/0};
  }
  auto q_device = test::ToDevice(q);
  auto k_device = test::ToDevice(k);
  auto v_device = test::ToDevice(v);
  auto views_device = test::ToDevice(views);
  auto positions_device = test::ToDevice(positions);
  auto token_views_device = test::ToDevice(token_views);
  auto inv_freq_device = test::ToDevice(inv_freq);
  ASSERT_EQ(cuda::RopeAndStoreKv(
                {q_device.data(), k_device.data(), v_device.data(), kHeads * kHeadDim, kKvDim},
                q_device.data(), positions_device.data(), n_tokens, kHeads, kKvHeads, kHeadDim,
                kHeadDim, inv_freq_device.data(), cpu::RopeStyle::kHalves, 1.0f,
                views_device.data(), token_views_device.data(), DType::kF32, nullptr),
            cudaSuccess);
  const std::vector<float> stored_keys = keys.ToHostFloats();
  const std::vector<float> stored_values = values.ToHostFloats();
  for (int sequence = 0; sequence < 3; ++sequence) {
    const std::span<const int32_t> block_table =
        std::span(blocks).subspan(sequence * kBlocks, kBlocks);
    std::vector<float> expected_keys(kCapacity * kKvDim, 0.0f);
    std::vector<float> expected_values(kCapacity * kKvDim, 0.0f);
    for (int64_t t = 0; t < n_tokens; ++t) {
      if (sequence_of[t] != sequence) continue;
      std::copy_n(rotated_k.begin() + t * kKvDim, kKvDim,
                  expected_keys.begin() + positions[t] * kKvDim);
      std::copy_n(v.begin() + t * kKvDim, kKvDim, expected_values.begin() + positions[t] * kKvDim);
    }
    SCOPED_TRACE(testing::Message() << "sequence " << sequence);
    EXPECT_LT(test::RelativeError(test::FromBlocks(stored_keys, kKvDim, block_table, kCapacity),
                                  expected_keys),
              kTolerance);
    EXPECT_EQ(test::FromBlocks(stored_values, kKvDim, block_table, kCapacity), expected_values);
  }
}

TEST(CudaRopePreconditionTest, RejectsOddRotaryDim) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  EXPECT_EQ(cuda::RopeAndStoreKv({nullptr, nullptr, nullptr, 64, 64}, nullptr, nullptr, 1, 1, 1, 64,
                                 63, nullptr, cpu::RopeStyle::kHalves, 1.0f, nullptr, nullptr,
                                 DType::kF32, nullptr),
            cudaErrorInvalidValue);
}

INSTANTIATE_TEST_SUITE_P(BothStyles, CudaRopeTest,
                         testing::Values(cpu::RopeStyle::kAdjacentPairs, cpu::RopeStyle::kHalves));

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
