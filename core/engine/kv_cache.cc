#include "core/engine/kv_cache.h"

#include "absl/strings/str_format.h"
#include "core/util/error_reason.h"

namespace tessera {

namespace {

class HostMemory : public KvMemory {
 public:
  absl::StatusOr<void*> Allocate(size_t bytes) override { return ::operator new(bytes); }
  void Free(void* data) override { ::operator delete(data); }
};

}  // namespace

KvMemory& HostKvMemory() {
  static HostMemory* const memory = new HostMemory();
  return *memory;
}

KvCache::KvCache(KvCachePool* pool, KvCacheShape shape, int64_t capacity, void* keys, void* values)
    : pool_(pool),
      shape_(shape),
      capacity_(capacity),
      keys_(static_cast<std::byte*>(keys)),
      values_(static_cast<std::byte*>(values)) {}

KvCache::~KvCache() {
  pool_->memory_.Free(keys_);
  pool_->memory_.Free(values_);
  pool_->Release(capacity_);
}

KvCachePool::KvCachePool(KvCacheShape shape, int64_t capacity_tokens, KvMemory& memory)
    : shape_(shape), capacity_tokens_(capacity_tokens), memory_(memory) {}

absl::StatusOr<std::unique_ptr<KvCache>> KvCachePool::Allocate(int64_t tokens) {
  {
    absl::MutexLock lock(&mutex_);
    if (used_tokens_ + tokens > capacity_tokens_) {
      return WithReason(
          absl::ResourceExhaustedError(absl::StrFormat(
              "KV cache full: the request needs %d tokens of KV cache, %d of %d are free; retry "
              "later or ask for fewer tokens",
              tokens, capacity_tokens_ - used_tokens_, capacity_tokens_)),
          reason::kKvCacheFull);
    }
    used_tokens_ += tokens;
  }
  // Keys and values take half of bytes_per_token each.
  const size_t bytes = static_cast<size_t>(tokens * shape_.bytes_per_token() / 2);
  absl::StatusOr<void*> keys = memory_.Allocate(bytes);
  absl::StatusOr<void*> values = keys.ok() ? memory_.Allocate(bytes) : keys;
  if (!values.ok()) {
    if (keys.ok()) memory_.Free(*keys);
    Release(tokens);
    return values.status();
  }
  return std::unique_ptr<KvCache>(new KvCache(this, shape_, tokens, *keys, *values));
}

int64_t KvCachePool::free_tokens() const {
  absl::MutexLock lock(&mutex_);
  return capacity_tokens_ - used_tokens_;
}

void KvCachePool::Release(int64_t tokens) {
  absl::MutexLock lock(&mutex_);
  used_tokens_ -= tokens;
}

}  // namespace tessera
