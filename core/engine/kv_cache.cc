#include "core/engine/kv_cache.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <iostream>
#include <numeric>

#include "absl/hash/hash.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {

namespace {

class HostMemory : public KvMemory {
 public:
  absl::StatusOr<void*> Allocate(size_t bytes) override { return ::operator new(bytes); }
  void Free(void* data) override { ::operator delete(data); }
  int64_t FreeBytes() const override {
    return int64_t{sysconf(_SC_AVPHYS_PAGES)} * sysconf(_SC_PAGESIZE);
  }
  absl::Status Copy(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return absl::OkStatus();
  }
};

// A block's key among the filed: a hash of its tokens and, through prefix_hash, of every token
// before them.
uint64_t BlockHash(uint64_t prefix_hash, std::span<const int32_t> tokens) {
  return absl::HashOf(prefix_hash, absl::MakeConstSpan(tokens.data(), tokens.size()));
}

std::atomic<int64_t> blocks_leaked_by_destroyed_pools{0};

}  // namespace

int64_t KvBlocksLeakedByDestroyedPools() { return blocks_leaked_by_destroyed_pools.load(); }

KvMemory& HostKvMemory() {
  static HostMemory* const memory = new HostMemory();
  return *memory;
}

KvCache::KvCache(KvCachePool* pool, int64_t capacity, int64_t new_blocks)
    : pool_(pool), capacity_(capacity), new_blocks_left_(new_blocks) {}

KvCache::~KvCache() { pool_->Release(block_table_, new_blocks_left_); }

absl::Status KvCache::AddBlocksFor(int64_t positions) {
  if (positions > capacity_) return absl::InternalError("KV cache: positions past its capacity");
  if (positions > length() && length() % kKvBlockTokens != 0) {
    // The first new position lands in the last block, which a fork may hold too.
    TESSERA_ASSIGN_OR_RETURN(block_table_.back(), pool_->BlockToWrite(block_table_.back()));
  }
  while (static_cast<int64_t>(block_table_.size()) < KvBlocksFor(positions)) {
    if (new_blocks_left_ == 0) {
      const std::optional<int32_t> block = pool_->TakeUnreservedBlock();
      if (!block) {
        return WithReason(absl::ResourceExhaustedError(
                              "KV cache full: no block is left for the sequence to grow into"),
                          reason::kKvCacheFull);
      }
      block_table_.push_back(*block);
      continue;
    }
    const std::optional<int32_t> block = pool_->TakeBlock();
    if (!block) return absl::InternalError("KV cache: a reserved block is missing");
    --new_blocks_left_;
    block_table_.push_back(*block);
  }
  return absl::OkStatus();
}

absl::Status KvCache::Clear() {
  if (pool_->sharing_ != KvSharing::kNone) {
    return absl::FailedPreconditionError(
        "KV cache: its blocks may be shared, so its positions cannot be encoded afresh");
  }
  tokens_.clear();
  return absl::OkStatus();
}

void KvCache::Extend(std::span<const int32_t> tokens) {
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  if (!pool_->shares_prefixes()) return;
  for (; (filed_blocks_ + 1) * kKvBlockTokens <= length(); ++filed_blocks_) {
    prefix_hash_ = pool_->File(
        block_table_[filed_blocks_], prefix_hash_,
        std::span<const int32_t>(tokens_).subspan(filed_blocks_ * kKvBlockTokens, kKvBlockTokens));
  }
}

absl::StatusOr<std::unique_ptr<KvCachePool>> KvCachePool::Create(KvCacheShape shape,
                                                                 int64_t capacity_tokens,
                                                                 KvMemory& memory,
                                                                 KvSharing sharing) {
  const int64_t n_blocks = KvBlocksFor(capacity_tokens);
  // Keys and values take half of bytes_per_token each.
  const size_t bytes = static_cast<size_t>(n_blocks * kKvBlockTokens * shape.bytes_per_token() / 2);
  absl::StatusOr<void*> keys = memory.Allocate(bytes);
  absl::StatusOr<void*> values = keys.ok() ? memory.Allocate(bytes) : keys;
  if (!values.ok()) {
    if (keys.ok()) memory.Free(*keys);
    return values.status();
  }
  return std::unique_ptr<KvCachePool>(
      new KvCachePool(shape, n_blocks, memory, *keys, *values, sharing));
}

KvCachePool::KvCachePool(KvCacheShape shape, int64_t n_blocks, KvMemory& memory, void* keys,
                         void* values, KvSharing sharing)
    : shape_(shape),
      n_blocks_(n_blocks),
      memory_(memory),
      keys_(static_cast<std::byte*>(keys)),
      values_(static_cast<std::byte*>(values)),
      sharing_(sharing),
      blocks_(n_blocks),
      free_blocks_(n_blocks) {
  // Taken from the back: block 0 first.
  std::iota(free_blocks_.rbegin(), free_blocks_.rend(), 0);
}

KvCachePool::~KvCachePool() {
  absl::MutexLock lock(&mutex_);
  const int64_t leaked = n_blocks_ - UnreservedBlocks();
  if (leaked > 0) {
    blocks_leaked_by_destroyed_pools += leaked;
    std::cerr << "KV cache pool destroyed with " << leaked
              << " blocks still held or reserved: a cache was never released\n";
  }
  memory_.Free(keys_);
  memory_.Free(values_);
}

std::vector<int32_t> KvCachePool::SharedPrefix(std::span<const int32_t> prompt,
                                               uint64_t& prefix_hash) const {
  std::vector<int32_t> shared;
  if (!shares_prefixes() || prompt.empty()) return shared;
  const int64_t most = (static_cast<int64_t>(prompt.size()) - 1) / kKvBlockTokens;
  for (int64_t b = 0; b < most; ++b) {
    const std::span<const int32_t> tokens = prompt.subspan(b * kKvBlockTokens, kKvBlockTokens);
    const auto found = filed_.find(BlockHash(prefix_hash, tokens));
    if (found == filed_.end()) break;
    const Block& block = blocks_[found->second];
    if (block.prefix_hash != prefix_hash ||
        !std::equal(tokens.begin(), tokens.end(), block.tokens.begin())) {
      break;
    }
    shared.push_back(found->second);
    prefix_hash = block.hash;
  }
  return shared;
}

absl::StatusOr<std::unique_ptr<KvCache>> KvCachePool::Allocate(
    int64_t capacity, std::span<const int32_t> prompt, std::optional<int64_t> reserved_tokens) {
  absl::MutexLock lock(&mutex_);
  uint64_t prefix_hash = 0;
  const std::vector<int32_t> shared = SharedPrefix(prompt, prefix_hash);
  const int64_t new_blocks = std::max<int64_t>(
      0, KvBlocksFor(reserved_tokens.value_or(capacity)) - static_cast<int64_t>(shared.size()));
  // Idle filed blocks this cache takes stop being available to others.
  const int64_t idle_taken = std::count_if(shared.begin(), shared.end(),
                                           [&](int32_t b) { return blocks_[b].holders == 0; });
  const int64_t available = UnreservedBlocks() - idle_taken;
  if (new_blocks > available) return FullError(new_blocks, available + idle_taken);
  for (const int32_t b : shared) {
    Block& block = blocks_[b];
    if (block.holders++ == 0) idle_filed_.erase(block.idle);
  }
  reserved_ += new_blocks;
  std::unique_ptr<KvCache> cache(new KvCache(this, capacity, new_blocks));
  const int64_t shared_tokens = static_cast<int64_t>(shared.size()) * kKvBlockTokens;
  cache->block_table_ = shared;
  cache->tokens_.assign(prompt.begin(), prompt.begin() + shared_tokens);
  cache->shared_prefix_tokens_ = shared_tokens;
  cache->filed_blocks_ = static_cast<int64_t>(shared.size());
  cache->prefix_hash_ = prefix_hash;
  return cache;
}

absl::Status KvCachePool::FullError(int64_t blocks, int64_t free) const {
  return WithReason(absl::ResourceExhaustedError(absl::StrFormat(
                        "KV cache full: the request needs %d tokens of KV cache, %d of %d are "
                        "free; retry later or ask for fewer tokens",
                        blocks * kKvBlockTokens, free * kKvBlockTokens, capacity_tokens())),
                    reason::kKvCacheFull);
}

absl::StatusOr<std::unique_ptr<KvCache>> KvCachePool::Fork(const KvCache& parent) {
  if (sharing_ == KvSharing::kNone) {
    return WithReason(absl::FailedPreconditionError(
                          "this model rewrites a sequence's earlier keys and values when it "
                          "passes the model's original context (LongRoPE), so sequences cannot "
                          "share them: it cannot fork sessions"),
                      reason::kForkUnsupported);
  }
  absl::MutexLock lock(&mutex_);
  const std::vector<int32_t>& table = parent.block_table_;
  const bool partial_last = parent.length() % kKvBlockTokens != 0;
  const int64_t new_blocks = parent.new_blocks_left_ + (partial_last ? 1 : 0);
  const int64_t available = UnreservedBlocks();
  if (new_blocks > available) return FullError(new_blocks, available);
  for (const int32_t b : table) ++blocks_[b].holders;
  // The copy of the last block is reserved with it rather than with either cache: whichever
  // writes into it first while the other holds it takes the copy.
  if (partial_last) ++blocks_[table.back()].copies_reserved;
  reserved_ += new_blocks;
  std::unique_ptr<KvCache> child(
      new KvCache(this, parent.capacity_, new_blocks - (partial_last ? 1 : 0)));
  child->tokens_ = parent.tokens_;
  child->block_table_ = table;
  child->shared_prefix_tokens_ = parent.shared_prefix_tokens_;
  child->filed_blocks_ = parent.filed_blocks_;
  child->prefix_hash_ = parent.prefix_hash_;
  return child;
}

absl::StatusOr<int32_t> KvCachePool::BlockToWrite(int32_t shared) {
  int32_t copy;
  {
    absl::MutexLock lock(&mutex_);
    Block& block = blocks_[shared];
    if (block.holders == 1) return shared;
    const std::optional<int32_t> fresh = TakeFreshBlock();
    if (!fresh || block.copies_reserved == 0) {
      return absl::InternalError("KV cache: no copy reserved for a shared block");
    }
    copy = *fresh;
    --block.copies_reserved;
    --block.holders;
  }
  // Only this cache writes into the copy, and nobody writes into `shared` (its other holders
  // write into copies of their own, or into it once alone): the copy needs no lock.
  const int64_t bytes = layer_bytes() / n_blocks_;
  for (int layer = 0; layer < shape_.num_layers; ++layer) {
    for (std::byte* base : {keys_, values_}) {
      std::byte* layer_base = base + layer * layer_bytes();
      TESSERA_RETURN_IF_ERROR(
          memory_.Copy(layer_base + copy * bytes, layer_base + shared * bytes, bytes));
    }
  }
  return copy;
}

int64_t KvCachePool::free_tokens() const {
  absl::MutexLock lock(&mutex_);
  return UnreservedBlocks() * kKvBlockTokens;
}

int64_t KvCachePool::idle_filed_tokens() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int64_t>(idle_filed_.size()) * kKvBlockTokens;
}

std::optional<int32_t> KvCachePool::TakeBlock() {
  absl::MutexLock lock(&mutex_);
  return TakeFreshBlock();
}

std::optional<int32_t> KvCachePool::TakeUnreservedBlock() {
  absl::MutexLock lock(&mutex_);
  if (UnreservedBlocks() <= 0) return std::nullopt;
  ++reserved_;  // reserved and taken at once
  return TakeFreshBlock();
}

std::optional<int32_t> KvCachePool::TakeFreshBlock() {
  int32_t taken;
  if (!free_blocks_.empty()) {
    taken = free_blocks_.back();
    free_blocks_.pop_back();
  } else if (!idle_filed_.empty()) {
    taken = idle_filed_.front();
    idle_filed_.pop_front();
    Block& block = blocks_[taken];
    filed_.erase(block.hash);
    block.filed = false;
  } else {
    return std::nullopt;
  }
  --reserved_;
  blocks_[taken].holders = 1;
  return taken;
}

uint64_t KvCachePool::File(int32_t b, uint64_t prefix_hash, std::span<const int32_t> tokens) {
  const uint64_t hash = BlockHash(prefix_hash, tokens);
  absl::MutexLock lock(&mutex_);
  if (filed_.try_emplace(hash, b).second) {
    Block& block = blocks_[b];
    block.filed = true;
    block.hash = hash;
    block.prefix_hash = prefix_hash;
    std::copy(tokens.begin(), tokens.end(), block.tokens.begin());
  }
  return hash;
}

void KvCachePool::Release(std::span<const int32_t> blocks, int64_t unused_reservation) {
  absl::MutexLock lock(&mutex_);
  for (const int32_t b : blocks) {
    Block& block = blocks_[b];
    if (block.copies_reserved > 0) {
      // One holder fewer: one copy fewer may be needed.
      --block.copies_reserved;
      --reserved_;
    }
    if (--block.holders > 0) continue;
    if (block.filed) {
      block.idle = idle_filed_.insert(idle_filed_.end(), b);
    } else {
      free_blocks_.push_back(b);
    }
  }
  reserved_ -= unused_reservation;
}

}  // namespace tessera
