// The paged KV-cache pool: reservations in whole blocks, blocks taken only as positions arrive,
// distinct blocks for every cache, everything back when a cache goes, and the layout
// (kernels/kv_blocks.h) that puts a position's keys in its block's row.
#include "core/engine/kv_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/util/error_reason.h"

namespace tessera {
namespace {

const KvCacheShape kShape{.num_layers = 2, .num_kv_heads = 3, .head_dim = 4};

TEST(KvCachePoolTest, CapacityIsWholeBlocks) {
  const auto pool = KvCachePool::Create(kShape, 100).value();
  EXPECT_EQ(pool->capacity_tokens(), 7 * kKvBlockTokens);  // 100 tokens need 7 blocks of 16
  EXPECT_EQ(pool->free_tokens(), pool->capacity_tokens());
}

TEST(KvCachePoolTest, ReservesWholeBlocksAndRefusesPastTheCapacity) {
  const auto pool = KvCachePool::Create(kShape, 4 * kKvBlockTokens).value();
  auto first = pool->Allocate(kKvBlockTokens + 1);  // 2 blocks
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(pool->free_tokens(), 2 * kKvBlockTokens);
  auto too_many = pool->Allocate(2 * kKvBlockTokens + 1);  // 3 blocks
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorReasonOf(too_many.status()), std::string(reason::kKvCacheFull));
  auto exactly = pool->Allocate(2 * kKvBlockTokens);
  ASSERT_TRUE(exactly.ok());
  EXPECT_EQ(pool->free_tokens(), 0);
  first->reset();
  EXPECT_EQ(pool->free_tokens(), 2 * kKvBlockTokens);
}

TEST(KvCachePoolTest, BlocksArriveWithThePositionsAndNeverOverlap) {
  const auto pool = KvCachePool::Create(kShape, 8 * kKvBlockTokens).value();
  std::unique_ptr<KvCache> a = pool->Allocate(4 * kKvBlockTokens).value();
  std::unique_ptr<KvCache> b = pool->Allocate(4 * kKvBlockTokens).value();
  EXPECT_TRUE(a->block_table().empty());  // reserved, not yet taken
  ASSERT_TRUE(a->AddBlocksFor(1).ok());
  EXPECT_EQ(a->block_table().size(), 1u);
  ASSERT_TRUE(a->AddBlocksFor(kKvBlockTokens).ok());
  EXPECT_EQ(a->block_table().size(), 1u);  // position 15 is still in the first block
  ASSERT_TRUE(b->AddBlocksFor(3 * kKvBlockTokens).ok());
  ASSERT_TRUE(a->AddBlocksFor(4 * kKvBlockTokens).ok());
  EXPECT_EQ(a->block_table().size(), 4u);
  EXPECT_EQ(b->block_table().size(), 3u);
  std::vector<int32_t> all(a->block_table().begin(), a->block_table().end());
  all.insert(all.end(), b->block_table().begin(), b->block_table().end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a block held twice";
  EXPECT_GE(all.front(), 0);
  EXPECT_LT(all.back(), 8);
}

TEST(KvCachePoolTest, PositionsPastTheReservationAreAnError) {
  const auto pool = KvCachePool::Create(kShape, 8 * kKvBlockTokens).value();
  std::unique_ptr<KvCache> cache = pool->Allocate(20).value();
  EXPECT_TRUE(cache->AddBlocksFor(20).ok());
  EXPECT_EQ(cache->AddBlocksFor(21).code(), absl::StatusCode::kInternal);
}

TEST(KvCachePoolTest, ReleasedBlocksServeTheNextCache) {
  const auto pool = KvCachePool::Create(kShape, 2 * kKvBlockTokens).value();
  for (int round = 0; round < 3; ++round) {
    std::unique_ptr<KvCache> cache = pool->Allocate(2 * kKvBlockTokens).value();
    ASSERT_TRUE(cache->AddBlocksFor(2 * kKvBlockTokens).ok()) << "round " << round;
  }
  EXPECT_EQ(pool->free_tokens(), 2 * kKvBlockTokens);
}

// Position p of a cache is row KvRow(table, p) of each layer's blocks: writing every position's
// row through the table and reading it back gives each position its own values, and layers do
// not overlap.
TEST(KvCachePoolTest, LayersAndRowsAreDistinctMemory) {
  const auto pool = KvCachePool::Create(kShape, 4 * kKvBlockTokens).value();
  std::unique_ptr<KvCache> cache = pool->Allocate(3 * kKvBlockTokens).value();
  ASSERT_TRUE(cache->AddBlocksFor(3 * kKvBlockTokens).ok());
  const int64_t row = kShape.values_per_token_per_layer();
  for (int layer = 0; layer < kShape.num_layers; ++layer) {
    for (int64_t p = 0; p < 3 * kKvBlockTokens; ++p) {
      float* keys = static_cast<float*>(pool->keys(layer));
      float* values = static_cast<float*>(pool->values(layer));
      std::fill_n(keys + KvRow(cache->block_table().data(), p) * row, row, 1000 * layer + p);
      std::fill_n(values + KvRow(cache->block_table().data(), p) * row, row, -1000 * layer - p);
    }
  }
  for (int layer = 0; layer < kShape.num_layers; ++layer) {
    for (int64_t p = 0; p < 3 * kKvBlockTokens; ++p) {
      const float* keys = static_cast<const float*>(pool->keys(layer));
      const float* values = static_cast<const float*>(pool->values(layer));
      const int64_t r = KvRow(cache->block_table().data(), p);
      ASSERT_EQ(keys[r * row + row - 1], 1000 * layer + p);
      ASSERT_EQ(values[r * row], -1000 * layer - p);
    }
  }
}

}  // namespace
}  // namespace tessera
