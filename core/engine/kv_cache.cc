#include "core/engine/kv_cache.h"

#include "absl/strings/str_format.h"
#include "core/util/error_reason.h"

namespace tessera {

KvCache::KvCache(KvCachePool* pool, KvCacheShape shape, int64_t capacity)
    : pool_(pool),
      shape_(shape),
      capacity_(capacity),
      keys_(static_cast<size_t>(shape.num_layers * layer_stride())),
      values_(keys_.size()) {}

KvCache::~KvCache() { pool_->Release(capacity_); }

KvCachePool::KvCachePool(KvCacheShape shape, int64_t capacity_tokens)
    : shape_(shape), capacity_tokens_(capacity_tokens) {}

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
  return std::unique_ptr<KvCache>(new KvCache(this, shape_, tokens));
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
