// KV cache: the keys and values of every token a sequence has seen, per layer, in fp32.
// Capacity is reserved from the model's KvCachePool up front, so a sequence that starts can
// always finish, and a full pool is a clear RESOURCE_EXHAUSTED at admission.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tessera {

struct KvCacheShape {
  int32_t num_layers = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;

  int64_t values_per_token_per_layer() const { return int64_t{num_kv_heads} * head_dim; }
  // Keys and values of all layers for one token.
  int64_t bytes_per_token() const {
    return 2 * num_layers * values_per_token_per_layer() * int64_t{sizeof(float)};
  }
};

class KvCachePool;

class KvCache {
 public:
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t capacity() const { return capacity_; }
  int64_t length() const { return static_cast<int64_t>(tokens_.size()); }
  // The ids of the tokens whose keys and values it holds, in position order.
  std::span<const int32_t> tokens() const { return tokens_; }
  // Records `tokens` at the next positions; the model writes their keys and values first.
  void Extend(std::span<const int32_t> tokens) {
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  }
  // Forgets every position, keeping the memory, so the tokens can be encoded afresh.
  void Clear() { tokens_.clear(); }

  // [capacity, num_kv_heads, head_dim] for one layer.
  float* keys(int layer) { return keys_.data() + layer * layer_stride(); }
  float* values(int layer) { return values_.data() + layer * layer_stride(); }

 private:
  friend class KvCachePool;
  KvCache(KvCachePool* pool, KvCacheShape shape, int64_t capacity);
  int64_t layer_stride() const { return capacity_ * shape_.values_per_token_per_layer(); }

  KvCachePool* pool_;
  KvCacheShape shape_;
  int64_t capacity_;
  std::vector<int32_t> tokens_;  // [length]
  std::vector<float> keys_;    // [num_layers, capacity, num_kv_heads, head_dim]
  std::vector<float> values_;  // same
};

// Hands out KV caches while their total capacity stays within a budget of tokens. Caches must
// not outlive the pool.
class KvCachePool {
 public:
  KvCachePool(KvCacheShape shape, int64_t capacity_tokens);

  // RESOURCE_EXHAUSTED (reason KV_CACHE_FULL) when fewer than `tokens` are free.
  absl::StatusOr<std::unique_ptr<KvCache>> Allocate(int64_t tokens);

  const KvCacheShape& shape() const { return shape_; }
  int64_t capacity_tokens() const { return capacity_tokens_; }
  int64_t free_tokens() const;

 private:
  friend class KvCache;
  void Release(int64_t tokens);

  const KvCacheShape shape_;
  const int64_t capacity_tokens_;
  mutable absl::Mutex mutex_;
  int64_t used_tokens_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace tessera
