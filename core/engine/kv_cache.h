// Paged KV cache: the keys and values of every token a sequence has seen, per layer, in the
// model's cache dtype (fp32 on the CPU; on a GPU the 16-bit dtype of the weights), in blocks of
// kKvBlockTokens positions (kernels/kv_blocks.h) from one pool per model, allocated once in the
// memory of the model's device (KvMemory) when the model loads. A sequence reserves its capacity
// in blocks up front, so one that starts can always finish and a full pool is a clear
// RESOURCE_EXHAUSTED at admission; it takes the blocks themselves only as its tokens arrive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kernels/kv_blocks.h"
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

// Where a pool keeps its keys and values: host memory for the CPU backend, device memory for a
// model on a GPU (which supplies its own).
class KvMemory {
 public:
  virtual ~KvMemory() = default;
  // `bytes` bytes, uninitialized, aligned for any element type. RESOURCE_EXHAUSTED when the
  // device has too little free memory.
  virtual absl::StatusOr<void*> Allocate(size_t bytes) = 0;
  virtual void Free(void* data) = 0;
  // What Allocate could still take.
  virtual int64_t FreeBytes() const = 0;
};

// Plain host memory.
KvMemory& HostKvMemory();

class KvCachePool;

class KvCache {
 public:
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Positions it may hold: what it reserved.
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return static_cast<int64_t>(tokens_.size()); }
  // The ids of the tokens whose keys and values it holds, in position order.
  std::span<const int32_t> tokens() const { return tokens_; }
  // Takes blocks from its reservation until they hold positions [0, positions), where the model
  // is about to write keys and values. INTERNAL past capacity(): a caller's bug.
  absl::Status AddBlocksFor(int64_t positions);
  // Records `tokens` at the next positions; the model writes their keys and values first.
  void Extend(std::span<const int32_t> tokens) {
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  }
  // Forgets every position, keeping the blocks, so the tokens can be encoded afresh.
  void Clear() { tokens_.clear(); }

  // Its blocks in position order: position p is in row KvRow(block_table().data(), p) of the
  // pool's layers.
  std::span<const int32_t> block_table() const { return block_table_; }
  const KvCachePool& pool() const { return *pool_; }

 private:
  friend class KvCachePool;
  KvCache(KvCachePool* pool, int64_t capacity);

  KvCachePool* pool_;
  int64_t capacity_;
  std::vector<int32_t> tokens_;       // [length]
  std::vector<int32_t> block_table_;  // [blocks taken so far]
};

// One sequence's part of a batched pass: `tokens` at positions [cache->length(),
// cache->length() + tokens.size()), their keys and values appended to `cache`.
struct SequenceChunk {
  std::span<const int32_t> tokens;
  KvCache* cache = nullptr;
};

// The blocks of one model's KV caches, and the caches that reserve them. Caches must not outlive
// the pool.
class KvCachePool {
 public:
  // Allocates the keys and values of KvBlocksFor(capacity_tokens) blocks in `memory`, which must
  // outlive the pool. Errors as KvMemory::Allocate.
  static absl::StatusOr<std::unique_ptr<KvCachePool>> Create(KvCacheShape shape,
                                                             int64_t capacity_tokens,
                                                             KvMemory& memory = HostKvMemory());
  ~KvCachePool();
  KvCachePool(const KvCachePool&) = delete;
  KvCachePool& operator=(const KvCachePool&) = delete;

  // A cache that reserves the blocks for `tokens` positions. RESOURCE_EXHAUSTED (reason
  // KV_CACHE_FULL) when fewer are free.
  absl::StatusOr<std::unique_ptr<KvCache>> Allocate(int64_t tokens);

  const KvCacheShape& shape() const { return shape_; }
  int64_t capacity_tokens() const { return n_blocks_ * kKvBlockTokens; }
  // Positions in blocks that no cache has reserved.
  int64_t free_tokens() const;

  // One layer's blocks: [n_blocks, kKvBlockTokens, num_kv_heads, head_dim] in the shape's dtype.
  void* keys(int layer) const { return keys_ + layer * layer_bytes(); }
  void* values(int layer) const { return values_ + layer * layer_bytes(); }

 private:
  friend class KvCache;
  KvCachePool(KvCacheShape shape, int64_t n_blocks, KvMemory& memory, void* keys, void* values);
  int64_t layer_bytes() const {
    return n_blocks_ * kKvBlockTokens * shape_.values_per_token_per_layer() *
           static_cast<int64_t>(DTypeSize(shape_.dtype));
  }
  // A block no cache holds; none only if more were taken than reserved.
  std::optional<int32_t> TakeBlock();
  // Gives back `blocks` and the reservation of `reserved_blocks`.
  void Release(std::span<const int32_t> blocks, int64_t reserved_blocks);

  const KvCacheShape shape_;
  const int64_t n_blocks_;
  KvMemory& memory_;
  std::byte* const keys_;    // [num_layers, n_blocks, kKvBlockTokens, num_kv_heads, head_dim]
  std::byte* const values_;  // same
  mutable absl::Mutex mutex_;
  int64_t reserved_blocks_ ABSL_GUARDED_BY(mutex_) = 0;
  std::vector<int32_t> free_blocks_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace tessera
