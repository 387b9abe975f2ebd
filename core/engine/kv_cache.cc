#include "core/engine/kv_cache.h"

#include "absl/strings/str_format.h"
#include "core/util/error_reason.h"

namespace tessera {

namespace {

class HostMemory : public KvMemory {
 public:
  absl::StatusOr<float*> Allocate(size_t n) override { return new float[n]; }
  void Free(float* data) override { delete[] data; }
};

}  // namespace

KvMemory& HostKvMemory() {
  static HostMemory* const memory = new HostMemory();
  return *memory;
}

KvCache::KvCache(KvCachePool* pool, KvCacheShape shape, int64_t capacity, float* keys,
                 float* values)
    : pool_(pool), shape_(shape), capacity_(capacity), keys_(keys), values_(values) {}

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
  const size_t floats = static_cast<size_t>(tokens * shape_.num_layers *
                                            shape_.values_per_token_per_layer());
  absl::StatusOr<float*> keys = memory_.Allocate(floats);
  absl::StatusOr<float*> values = keys.ok() ? memory_.Allocate(floats) : keys;
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
