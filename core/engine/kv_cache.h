// KV cache: the keys and values of every token a sequence has seen, per layer, in the model's
// cache dtype (fp32 on the CPU; on a GPU the 16-bit dtype of the weights), in the memory of the
// model's device (KvMemory). Capacity is reserved from the model's KvCachePool up
// front, so a sequence that starts can always finish, and a full pool is a clear
// RESOURCE_EXHAUSTED at admission.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kernels/tensor.h"

namespace tessera {

struct KvCacheShape {
  int32_t num_layers = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  DType dtype = DType::kF32;  // of every key and value

  int64_t values_per_token_per_layer() const { return int64_t{num_kv_heads} * head_dim; }
  // Keys and values of all layers for one token.
  int64_t bytes_per_token() const {
    return 2 * num_layers * values_per_token_per_layer() * static_cast<int64_t>(DTypeSize(dtype));
  }
};

// Where caches keep their keys and values: host memory for the CPU backend, device memory for a
// model on a GPU (which supplies its own).
class KvMemory {
 public:
  virtual ~KvMemory() = default;
  // `bytes` bytes, uninitialized, aligned for any element type. RESOURCE_EXHAUSTED when the
  // device has too little free memory.
  virtual absl::StatusOr<void*> Allocate(size_t bytes) = 0;
  virtual void Free(void* data) = 0;
};

// Plain host memory.
KvMemory& HostKvMemory();

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

  // [capacity, num_kv_heads, head_dim] for one layer in the shape's dtype, in the pool's
  // KvMemory.
  void* keys(int layer) { return keys_ + layer * layer_bytes(); }
  void* values(int layer) { return values_ + layer * layer_bytes(); }

 private:
  friend class KvCachePool;
  KvCache(KvCachePool* pool, KvCacheShape shape, int64_t capacity, void* keys, void* values);
  int64_t layer_bytes() const {
    return capacity_ * shape_.values_per_token_per_layer() *
           static_cast<int64_t>(DTypeSize(shape_.dtype));
  }

  KvCachePool* pool_;
  KvCacheShape shape_;
  int64_t capacity_;
  std::vector<int32_t> tokens_;  // [length]
  std::byte* keys_;              // [num_layers, capacity, num_kv_heads, head_dim]
  std::byte* values_;            // same
};

// One sequence's part of a batched pass: `tokens` at positions [cache->length(),
// cache->length() + tokens.size()), their keys and values appended to `cache`.
struct SequenceChunk {
  std::span<const int32_t> tokens;
  KvCache* cache = nullptr;
};

// Hands out KV caches while their total capacity stays within a budget of tokens. Caches must
// not outlive the pool.
class KvCachePool {
 public:
  // `memory` must outlive the pool.
  KvCachePool(KvCacheShape shape, int64_t capacity_tokens, KvMemory& memory = HostKvMemory());

  // RESOURCE_EXHAUSTED (reason KV_CACHE_FULL) when fewer than `tokens` are free, or as
  // KvMemory::Allocate when the device is out of memory.
  absl::StatusOr<std::unique_ptr<KvCache>> Allocate(int64_t tokens);

  const KvCacheShape& shape() const { return shape_; }
  int64_t capacity_tokens() const { return capacity_tokens_; }
  int64_t free_tokens() const;

 private:
  friend class KvCache;
  void Release(int64_t tokens);

  const KvCacheShape shape_;
  const int64_t capacity_tokens_;
  KvMemory& memory_;
  mutable absl::Mutex mutex_;
  int64_t used_tokens_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace tessera
