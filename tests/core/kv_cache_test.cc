// The paged KV-cache pool: reservations in whole blocks, blocks taken only as positions arrive,
// distinct blocks for every cache, everything back when a cache goes, the layout
// (kernels/kv_blocks.h) that puts a position's keys in its block's row; and prefix sharing:
// which blocks a prompt shares, that shared blocks outlive their first holder, and that idle ones
// are given out again, least recently released first, when fresh blocks run out; and forks,
// which share every block and copy the partly filled last one only when they write into it.
#include "core/engine/kv_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <span>
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

TEST(KvCachePoolTest, PositionsPastTheCapacityAreAnError) {
  const auto pool = KvCachePool::Create(kShape, 8 * kKvBlockTokens).value();
  std::unique_ptr<KvCache> cache = pool->Allocate(20).value();
  EXPECT_TRUE(cache->AddBlocksFor(20).ok());
  EXPECT_EQ(cache->AddBlocksFor(21).code(), absl::StatusCode::kInternal);
}

// A cache reserving fewer positions than its capacity grows into blocks nobody reserved, while
// there are any.
TEST(KvCachePoolTest, PositionsPastTheReservationTakeUnreservedBlocksWhileAnyAreLeft) {
  const auto pool = KvCachePool::Create(kShape, 4 * kKvBlockTokens).value();
  std::unique_ptr<KvCache> growing =
      pool->Allocate(4 * kKvBlockTokens, {}, /*reserved_tokens=*/kKvBlockTokens).value();
  std::unique_ptr<KvCache> reserved = pool->Allocate(2 * kKvBlockTokens).value();
  EXPECT_EQ(pool->free_tokens(), kKvBlockTokens);
  ASSERT_TRUE(growing->AddBlocksFor(2 * kKvBlockTokens).ok());
  EXPECT_EQ(pool->free_tokens(), 0);
  const absl::Status full = growing->AddBlocksFor(3 * kKvBlockTokens);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorReasonOf(full), std::string(reason::kKvCacheFull));
  EXPECT_EQ(growing->block_table().size(), 2u);
  // What others reserved stays theirs.
  EXPECT_TRUE(reserved->AddBlocksFor(2 * kKvBlockTokens).ok());
  reserved.reset();
  EXPECT_TRUE(growing->AddBlocksFor(4 * kKvBlockTokens).ok());
  growing.reset();
  EXPECT_EQ(pool->free_tokens(), pool->capacity_tokens());
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

// Blocks of a pool that shares prefixes, after the model "ran" `tokens` through `cache`.
void Feed(KvCache& cache, std::span<const int32_t> tokens) {
  ASSERT_TRUE(cache.AddBlocksFor(cache.length() + static_cast<int64_t>(tokens.size())).ok());
  cache.Extend(tokens);
}

std::vector<int32_t> Tokens(int32_t first, int64_t n) {
  std::vector<int32_t> tokens(n);
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::unique_ptr<KvCachePool> SharingPool(int64_t blocks,
                                         KvSharing sharing = KvSharing::kForksAndPrefixes) {
  return KvCachePool::Create(kShape, blocks * kKvBlockTokens, HostKvMemory(), sharing).value();
}

TEST(KvCachePrefixTest, PromptSharesTheWholeBlocksOfAnEarlierPrompt) {
  const auto pool = SharingPool(16);
  const std::vector<int32_t> prefix = Tokens(100, 40);  // two whole blocks and 8 tokens
  std::unique_ptr<KvCache> first = pool->Allocate(64, prefix).value();
  EXPECT_EQ(first->shared_prefix_tokens(), 0);
  Feed(*first, prefix);

  const std::vector<int32_t> prompt = Concat(prefix, Tokens(7, 5));
  std::unique_ptr<KvCache> second = pool->Allocate(64, prompt).value();
  EXPECT_EQ(second->shared_prefix_tokens(), 2 * kKvBlockTokens);
  EXPECT_EQ(second->length(), 2 * kKvBlockTokens);  // the model starts after the shared blocks
  EXPECT_TRUE(std::equal(second->tokens().begin(), second->tokens().end(), prompt.begin()));
  ASSERT_EQ(second->block_table().size(), 2u);
  EXPECT_EQ(second->block_table()[0], first->block_table()[0]);
  EXPECT_EQ(second->block_table()[1], first->block_table()[1]);
  // It reserved fresh blocks only for what it does not share: 4 - 2.
  EXPECT_EQ(pool->free_tokens(), (16 - 4 - 2) * kKvBlockTokens);
  Feed(*second, std::span<const int32_t>(prompt).subspan(2 * kKvBlockTokens));
  EXPECT_EQ(second->block_table().size(), 3u);
  EXPECT_NE(second->block_table()[2], first->block_table()[2]);
}

TEST(KvCachePrefixTest, TheLastPromptTokenIsNeverShared) {
  const auto pool = SharingPool(16);
  const std::vector<int32_t> prompt = Tokens(100, 2 * kKvBlockTokens);
  std::unique_ptr<KvCache> first = pool->Allocate(48, prompt).value();
  Feed(*first, prompt);
  // The same 32 tokens: the second block holds the last one, whose logits must be computed.
  std::unique_ptr<KvCache> again = pool->Allocate(48, prompt).value();
  EXPECT_EQ(again->shared_prefix_tokens(), kKvBlockTokens);
}

TEST(KvCachePrefixTest, SharingStopsAtTheFirstDifferentBlock) {
  const auto pool = SharingPool(16);
  const std::vector<int32_t> prompt = Tokens(100, 3 * kKvBlockTokens);
  std::unique_ptr<KvCache> first = pool->Allocate(64, prompt).value();
  Feed(*first, prompt);
  std::vector<int32_t> changed = Concat(prompt, {1});
  changed[kKvBlockTokens + 3] = 9;  // in the second block: the third matches, but follows it
  std::unique_ptr<KvCache> second = pool->Allocate(64, changed).value();
  EXPECT_EQ(second->shared_prefix_tokens(), kKvBlockTokens);
}

TEST(KvCachePrefixTest, NothingIsSharedWhenThePoolDoesNotShare) {
  const auto pool = KvCachePool::Create(kShape, 16 * kKvBlockTokens).value();
  EXPECT_FALSE(pool->shares_prefixes());
  const std::vector<int32_t> prompt = Tokens(100, 40);
  std::unique_ptr<KvCache> first = pool->Allocate(64, prompt).value();
  Feed(*first, prompt);
  EXPECT_EQ(pool->Allocate(64, prompt).value()->shared_prefix_tokens(), 0);
}

TEST(KvCachePrefixTest, SharedBlocksOutliveTheirFirstHolderThenWaitIdle) {
  const auto pool = SharingPool(8);
  const std::vector<int32_t> prompt = Tokens(100, 40);
  std::unique_ptr<KvCache> first = pool->Allocate(48, prompt).value();
  Feed(*first, prompt);
  std::unique_ptr<KvCache> second = pool->Allocate(48, Concat(prompt, {5})).value();
  first.reset();
  EXPECT_EQ(pool->idle_filed_tokens(), 0);  // the second still holds both filed blocks
  second.reset();
  EXPECT_EQ(pool->idle_filed_tokens(), 2 * kKvBlockTokens);
  EXPECT_EQ(pool->free_tokens(), pool->capacity_tokens());  // idle blocks count as free
  // Idle, they still serve a third.
  EXPECT_EQ(pool->Allocate(48, prompt).value()->shared_prefix_tokens(), 2 * kKvBlockTokens);
}

TEST(KvCachePrefixTest, FreshBlocksTakeTheLeastRecentlyReleasedIdleOnes) {
  const auto pool = SharingPool(4);
  const std::vector<int32_t> old_prompt = Tokens(100, kKvBlockTokens + 1);
  const std::vector<int32_t> new_prompt = Tokens(500, kKvBlockTokens + 1);
  for (const auto& prompt : {old_prompt, new_prompt}) {
    std::unique_ptr<KvCache> cache = pool->Allocate(2 * kKvBlockTokens, prompt).value();
    Feed(*cache, prompt);
  }
  EXPECT_EQ(pool->idle_filed_tokens(), 2 * kKvBlockTokens);  // one filed block of each
  // Three fresh blocks: the two never filed, then the older prompt's block.
  std::unique_ptr<KvCache> big = pool->Allocate(3 * kKvBlockTokens).value();
  ASSERT_TRUE(big->AddBlocksFor(3 * kKvBlockTokens).ok());
  EXPECT_EQ(pool->idle_filed_tokens(), kKvBlockTokens);
  big.reset();
  EXPECT_EQ(pool->Allocate(32, old_prompt).value()->shared_prefix_tokens(), 0);
  EXPECT_EQ(pool->Allocate(32, new_prompt).value()->shared_prefix_tokens(), kKvBlockTokens);
}

// A full pool counts the idle filed blocks a new cache would take as no longer free.
TEST(KvCachePrefixTest, ReservationsCountSharedIdleBlocks) {
  const auto pool = SharingPool(4);
  const std::vector<int32_t> prompt = Tokens(100, 2 * kKvBlockTokens + 1);
  {
    std::unique_ptr<KvCache> cache = pool->Allocate(3 * kKvBlockTokens, prompt).value();
    Feed(*cache, prompt);
  }
  // It shares the 2 idle blocks and needs 2 fresh: 4, all there is.
  std::unique_ptr<KvCache> sharer = pool->Allocate(4 * kKvBlockTokens, prompt).value();
  EXPECT_EQ(sharer->shared_prefix_tokens(), 2 * kKvBlockTokens);
  EXPECT_EQ(pool->free_tokens(), 0);
  auto more = pool->Allocate(1);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kResourceExhausted);
  sharer.reset();
  EXPECT_EQ(pool->free_tokens(), pool->capacity_tokens());
}

// Writes `value` into every key and value of `positions` of `cache` in each layer, as the model
// would when it runs those positions.
void WriteRows(const KvCache& cache, int64_t first, int64_t end, float value) {
  const int64_t row = kShape.values_per_token_per_layer();
  for (int layer = 0; layer < kShape.num_layers; ++layer) {
    for (void* base : {cache.pool().keys(layer), cache.pool().values(layer)}) {
      for (int64_t p = first; p < end; ++p) {
        std::fill_n(static_cast<float*>(base) + KvRow(cache.block_table().data(), p) * row, row,
                    value + p);
      }
    }
  }
}

// Whether every key and value of positions [first, end) of `cache` holds `value` + position.
bool RowsHold(const KvCache& cache, int64_t first, int64_t end, float value) {
  const int64_t row = kShape.values_per_token_per_layer();
  for (int layer = 0; layer < kShape.num_layers; ++layer) {
    for (const void* base : {cache.pool().keys(layer), cache.pool().values(layer)}) {
      for (int64_t p = first; p < end; ++p) {
        const float* at =
            static_cast<const float*>(base) + KvRow(cache.block_table().data(), p) * row;
        if (!std::all_of(at, at + row, [&](float v) { return v == value + p; })) return false;
      }
    }
  }
  return true;
}

// The parent after running `n` positions, their rows holding position + 1000.
std::unique_ptr<KvCache> RunParent(KvCachePool& pool, int64_t capacity, int64_t n) {
  std::unique_ptr<KvCache> parent = pool.Allocate(capacity).value();
  const std::vector<int32_t> tokens = Tokens(100, n);
  EXPECT_TRUE(parent->AddBlocksFor(n).ok());
  WriteRows(*parent, 0, n, 1000);
  parent->Extend(tokens);
  return parent;
}

TEST(KvCacheForkTest, ForkSharesEveryBlockAndCopiesThePartlyFilledOneOnWrite) {
  const auto pool = SharingPool(16, KvSharing::kForks);
  std::unique_ptr<KvCache> parent = RunParent(*pool, 4 * kKvBlockTokens, kKvBlockTokens + 4);
  const int64_t free_before = pool->free_tokens();
  std::unique_ptr<KvCache> child = pool->Fork(*parent).value();
  EXPECT_EQ(child->length(), parent->length());
  EXPECT_TRUE(std::equal(child->tokens().begin(), child->tokens().end(), parent->tokens().begin(),
                         parent->tokens().end()));
  EXPECT_TRUE(std::equal(child->block_table().begin(), child->block_table().end(),
                         parent->block_table().begin(), parent->block_table().end()));
  // Reserved: two blocks for the child's last two, one for the copy of the partly filled block.
  EXPECT_EQ(pool->free_tokens(), free_before - 3 * kKvBlockTokens);

  // The child writes into the shared partly filled block: it gets a copy, contents and all.
  ASSERT_TRUE(child->AddBlocksFor(child->length() + 1).ok());
  EXPECT_EQ(child->block_table()[0], parent->block_table()[0]);
  EXPECT_NE(child->block_table()[1], parent->block_table()[1]);
  EXPECT_TRUE(RowsHold(*child, 0, parent->length(), 1000));
  WriteRows(*child, parent->length(), parent->length() + 1, 2000);
  EXPECT_EQ(pool->free_tokens(), free_before - 3 * kKvBlockTokens);  // the copy was reserved

  // The parent, alone in its block now, writes in place and sees none of the child's rows.
  const int32_t parent_block = parent->block_table()[1];
  ASSERT_TRUE(parent->AddBlocksFor(parent->length() + 1).ok());
  EXPECT_EQ(parent->block_table()[1], parent_block);
  WriteRows(*parent, parent->length(), parent->length() + 1, 3000);
  EXPECT_TRUE(RowsHold(*parent, 0, parent->length(), 1000));
  EXPECT_TRUE(RowsHold(*parent, parent->length(), parent->length() + 1, 3000));
  EXPECT_TRUE(RowsHold(*child, parent->length(), parent->length() + 1, 2000));

  child.reset();
  parent.reset();
  EXPECT_EQ(pool->free_tokens(), pool->capacity_tokens());
}

TEST(KvCacheForkTest, WholeBlocksNeedNoCopy) {
  const auto pool = SharingPool(16, KvSharing::kForks);
  std::unique_ptr<KvCache> parent = RunParent(*pool, 4 * kKvBlockTokens, 2 * kKvBlockTokens);
  const int64_t free_before = pool->free_tokens();
  std::unique_ptr<KvCache> child = pool->Fork(*parent).value();
  EXPECT_EQ(pool->free_tokens(), free_before - 2 * kKvBlockTokens);
  ASSERT_TRUE(child->AddBlocksFor(child->length() + 1).ok());
  ASSERT_EQ(child->block_table().size(), 3u);
  EXPECT_EQ(child->block_table()[1], parent->block_table()[1]);
}

TEST(KvCacheForkTest, AForkReleasedBeforeWritingGivesItsCopyBack) {
  const auto pool = SharingPool(16, KvSharing::kForks);
  std::unique_ptr<KvCache> parent = RunParent(*pool, 4 * kKvBlockTokens, 5);
  const int64_t free_before = pool->free_tokens();
  pool->Fork(*parent).value().reset();
  EXPECT_EQ(pool->free_tokens(), free_before);
  const int32_t block = parent->block_table()[0];
  ASSERT_TRUE(parent->AddBlocksFor(6).ok());
  EXPECT_EQ(parent->block_table()[0], block);  // alone again: written in place
}

TEST(KvCacheForkTest, ForkOfAForkAndFullPool) {
  const auto pool = SharingPool(6, KvSharing::kForks);
  std::unique_ptr<KvCache> parent = RunParent(*pool, 2 * kKvBlockTokens, 5);  // 1 block taken
  std::unique_ptr<KvCache> child = pool->Fork(*parent).value();               // 1 + 1 copy
  std::unique_ptr<KvCache> grandchild = pool->Fork(*child).value();           // 1 + 1 copy
  EXPECT_EQ(pool->free_tokens(), 0);
  EXPECT_EQ(pool->Fork(*parent).status().code(), absl::StatusCode::kResourceExhausted);
  // Three holders of one block: each writer but the last gets a copy.
  for (KvCache* cache : {parent.get(), child.get(), grandchild.get()}) {
    ASSERT_TRUE(cache->AddBlocksFor(2 * kKvBlockTokens).ok());
    EXPECT_TRUE(RowsHold(*cache, 0, 5, 1000));
  }
  EXPECT_NE(parent->block_table()[0], child->block_table()[0]);
  EXPECT_NE(child->block_table()[0], grandchild->block_table()[0]);
  EXPECT_NE(parent->block_table()[0], grandchild->block_table()[0]);
  parent.reset();
  child.reset();
  grandchild.reset();
  EXPECT_EQ(pool->free_tokens(), pool->capacity_tokens());
}

TEST(KvCacheForkTest, AForkReservesWhatItsParentStillHasReserved) {
  const auto pool = SharingPool(8, KvSharing::kForks);
  std::unique_ptr<KvCache> parent =
      pool->Allocate(8 * kKvBlockTokens, {}, /*reserved_tokens=*/3 * kKvBlockTokens).value();
  ASSERT_TRUE(parent->AddBlocksFor(kKvBlockTokens).ok());
  parent->Extend(Tokens(100, kKvBlockTokens));
  EXPECT_EQ(pool->free_tokens(), 5 * kKvBlockTokens);
  std::unique_ptr<KvCache> child = pool->Fork(*parent).value();
  EXPECT_EQ(pool->free_tokens(), 3 * kKvBlockTokens);  // the parent's two untaken blocks
}

// A model that rewrites a sequence's keys (LongRoPE) gets a pool that shares nothing: it may not
// fork, and only there may a cache be cleared for encoding afresh.
TEST(KvCacheForkTest, OnlyAPoolThatSharesNothingClearsAndItCannotFork) {
  for (const KvSharing sharing :
       {KvSharing::kNone, KvSharing::kForks, KvSharing::kForksAndPrefixes}) {
    const auto pool = SharingPool(4, sharing);
    std::unique_ptr<KvCache> cache = RunParent(*pool, 2 * kKvBlockTokens, 5);
    const absl::StatusOr<std::unique_ptr<KvCache>> fork = pool->Fork(*cache);
    const absl::Status clear = cache->Clear();
    if (sharing == KvSharing::kNone) {
      EXPECT_EQ(fork.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(ErrorReasonOf(fork.status()), std::string(reason::kForkUnsupported));
      EXPECT_TRUE(clear.ok()) << clear;
      EXPECT_EQ(cache->length(), 0);
    } else {
      EXPECT_TRUE(fork.ok()) << fork.status();
      EXPECT_EQ(clear.code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(cache->length(), 5);
    }
  }
}

}  // namespace
}  // namespace tessera
