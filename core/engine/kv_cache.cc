#include "core/engine/kv_cache.h"

#include <unistd.h>

#include <numeric>

#include "absl/strings/str_format.h"
#include "core/util/error_reason.h"

namespace tessera {

namespace {

class HostMemory : public KvMemory {
 public:
  absl::StatusOr<void*> Allocate(size_t bytes) override { return ::operator new(bytes); }
  void Free(void* data) override { ::operator delete(data); }
  int64_t FreeBytes() const override {
    return int64_t{sysconf(_SC_AVPHYS_PAGES)} * sysconf(_SC_PAGESIZE);
  }
};

}  // namespace

KvMemory& HostKvMemory() {
  static HostMemory* const memory = new HostMemory();
  return *memory;
}

KvCache::KvCache(KvCachePool* pool, int64_t capacity) : pool_(pool), capacity_(capacity) {}

KvCache::~KvCache() { pool_->Release(block_table_, KvBlocksFor(capacity_)); }

absl::Status KvCache::AddBlocksFor(int64_t positions) {
  if (positions > capacity_) return absl::InternalError("KV cache: positions past its capacity");
  while (static_cast<int64_t>(block_table_.size()) < KvBlocksFor(positions)) {
    const std::optional<int32_t> block = pool_->TakeBlock();
    if (!block) return absl::InternalError("KV cache: a reserved block is missing");
    block_table_.push_back(*block);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<KvCachePool>> KvCachePool::Create(KvCacheShape shape,
                                                                 int64_t capacity_tokens,
                                                                 KvMemory& memory) {
  const int64_t n_blocks = KvBlocksFor(capacity_tokens);
  // Keys and values take half of bytes_per_token each.
  const size_t bytes = static_cast<size_t>(n_blocks * kKvBlockTokens * shape.bytes_per_token() / 2);
  absl::StatusOr<void*> keys = memory.Allocate(bytes);
  absl::StatusOr<void*> values = keys.ok() ? memory.Allocate(bytes) : keys;
  if (!values.ok()) {
    if (keys.ok()) memory.Free(*keys);
    return values.status();
  }
  return std::unique_ptr<KvCachePool>(new KvCachePool(shape, n_blocks, memory, *keys, *values));
}

KvCachePool::KvCachePool(KvCacheShape shape, int64_t n_blocks, KvMemory& memory, void* keys,
                         void* values)
    : shape_(shape),
      n_blocks_(n_blocks),
      memory_(memory),
      keys_(static_cast<std::byte*>(keys)),
      values_(static_cast<std::byte*>(values)),
      free_blocks_(n_blocks) {
  // Taken from the back: block 0 first.
  std::iota(free_blocks_.rbegin(), free_blocks_.rend(), 0);
}

KvCachePool::~KvCachePool() {
  memory_.Free(keys_);
  memory_.Free(values_);
}

absl::StatusOr<std::unique_ptr<KvCache>> KvCachePool::Allocate(int64_t tokens) {
  const int64_t blocks = KvBlocksFor(tokens);
  absl::MutexLock lock(&mutex_);
  if (reserved_blocks_ + blocks > n_blocks_) {
    return WithReason(
        absl::ResourceExhaustedError(absl::StrFormat(
            "KV cache full: the request needs %d tokens of KV cache, %d of %d are free; retry "
            "later or ask for fewer tokens",
            tokens, (n_blocks_ - reserved_blocks_) * kKvBlockTokens, capacity_tokens())),
        reason::kKvCacheFull);
  }
  reserved_blocks_ += blocks;
  return std::unique_ptr<KvCache>(new KvCache(this, tokens));
}

int64_t KvCachePool::free_tokens() const {
  absl::MutexLock lock(&mutex_);
  return (n_blocks_ - reserved_blocks_) * kKvBlockTokens;
}

std::optional<int32_t> KvCachePool::TakeBlock() {
  absl::MutexLock lock(&mutex_);
  if (free_blocks_.empty()) return std::nullopt;
  const int32_t block = free_blocks_.back();
  free_blocks_.pop_back();
  return block;
}

void KvCachePool::Release(std::span<const int32_t> blocks, int64_t reserved_blocks) {
  absl::MutexLock lock(&mutex_);
  free_blocks_.insert(free_blocks_.end(), blocks.begin(), blocks.end());
  reserved_blocks_ -= reserved_blocks;
}

}  // namespace tessera
