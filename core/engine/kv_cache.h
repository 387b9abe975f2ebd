// Paged KV cache: the keys and values of every token a sequence has seen, per layer, in the
// model's cache dtype (fp32 on the CPU; on a GPU the 16-bit dtype of the weights), in blocks of
// kKvBlockTokens positions (kernels/kv_blocks.h) from one pool per model, allocated once in the
// memory of the model's device (KvMemory) when the model loads. A sequence reserves its capacity
// in blocks up front, so one that starts can always finish and a full pool is a clear
// RESOURCE_EXHAUSTED at admission; it takes the blocks themselves only as its tokens arrive.
//
// Prefix sharing: once a block is full, the pool files it under a hash of its tokens and of every
// token before it. A new sequence whose prompt starts with the same tokens takes those blocks
// instead of computing them (reference-counted, never written again). A filed block nobody holds
// stays filed until a fresh block is needed and it is the least recently released.
//
// Forks: a cache's fork shares all its blocks. Whole blocks are never written again; the last,
// partly filled one is copied by whichever cache writes into it first while the other still holds
// it (copy on write), so branches cost nothing until they diverge.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
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
  // Copies `bytes` bytes within this memory, complete when it returns.
  virtual absl::Status Copy(void* dst, const void* src, size_t bytes) = 0;
};

// Plain host memory.
KvMemory& HostKvMemory();

// Blocks that pools destroyed so far in this process still counted as held or reserved: caches
// that were never released, a leak. Tests check that it stays 0.
int64_t KvBlocksLeakedByDestroyedPools();

// Which blocks the caches of a pool hold together. Shared blocks are never written again, so a
// model that rewrites a sequence's earlier keys (LongRoPE, on crossing its original context:
// KvCache::Clear) needs kNone.
enum class KvSharing {
  kNone,              // each cache holds blocks of its own, and may rewrite them
  kForks,             // a fork shares the blocks of the cache it was forked from
  kForksAndPrefixes,  // and caches share the blocks of a common prompt prefix
};

class KvCachePool;

class KvCache {
 public:
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Positions it may hold at most.
  int64_t capacity() const { return capacity_; }
  // Positions whose keys and values it took from other sequences' blocks when it was allocated.
  int64_t shared_prefix_tokens() const { return shared_prefix_tokens_; }
  int64_t length() const { return static_cast<int64_t>(tokens_.size()); }
  // The ids of the tokens whose keys and values it holds, in position order.
  std::span<const int32_t> tokens() const { return tokens_; }
  // Makes positions [length(), positions) writable, where the model is about to write keys and
  // values: takes blocks from its reservation, then from the blocks nobody reserved, until they
  // hold them, and first copies its last block if it writes into it while a fork still holds
  // it. RESOURCE_EXHAUSTED (KV_CACHE_FULL) when its reservation is used up and no unreserved
  // block is left (the blocks it took stay taken); INTERNAL past capacity(): a caller's bug;
  // errors as KvMemory::Copy.
  absl::Status AddBlocksFor(int64_t positions);
  // Records `tokens` at the next positions, whose keys and values the model has written; files
  // the blocks this fills for sharing, when the pool shares prefixes.
  void Extend(std::span<const int32_t> tokens);
  // Forgets every position, keeping the blocks, so the tokens can be encoded afresh.
  // FAILED_PRECONDITION unless the pool shares nothing (KvSharing::kNone).
  absl::Status Clear();

  // Its blocks in position order: position p is in row KvRow(block_table().data(), p) of the
  // pool's layers.
  std::span<const int32_t> block_table() const { return block_table_; }
  KvCachePool& pool() const { return *pool_; }

 private:
  friend class KvCachePool;
  KvCache(KvCachePool* pool, int64_t capacity, int64_t new_blocks);

  KvCachePool* pool_;
  int64_t capacity_;
  int64_t new_blocks_left_;  // of its reservation, not yet taken
  int64_t shared_prefix_tokens_ = 0;
  std::vector<int32_t> tokens_;       // [length]
  std::vector<int32_t> block_table_;  // [blocks taken so far]
  // Its first filed_blocks_ blocks are filed (by it or, when shared, by another sequence); the
  // last of them under prefix_hash_.
  int64_t filed_blocks_ = 0;
  uint64_t prefix_hash_ = 0;
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
  // outlive the pool. `sharing`: kNone unless the model's ModelInfo::prefix_determines_kv.
  // Errors as KvMemory::Allocate.
  static absl::StatusOr<std::unique_ptr<KvCachePool>> Create(KvCacheShape shape,
                                                             int64_t capacity_tokens,
                                                             KvMemory& memory = HostKvMemory(),
                                                             KvSharing sharing = KvSharing::kNone);
  ~KvCachePool();
  KvCachePool(const KvCachePool&) = delete;
  KvCachePool& operator=(const KvCachePool&) = delete;

  // A cache holding what `parent` holds, in the same blocks, with the same capacity; it
  // reserves as many fresh blocks as `parent` still has reserved, and a copy of the last block
  // when it is partly filled. RESOURCE_EXHAUSTED (KV_CACHE_FULL) when fewer blocks are free;
  // FAILED_PRECONDITION (FORK_UNSUPPORTED) in a pool whose caches share nothing.
  absl::StatusOr<std::unique_ptr<KvCache>> Fork(const KvCache& parent);

  // A cache for at most `capacity` positions, the first of which will be `prompt` (capacity >=
  // prompt.size()). When the pool shares prefixes it starts with the longest run of whole filed
  // blocks that matches the prompt's start, short of its last token (whose logits the model must
  // compute). It reserves fresh blocks for the rest of its first `reserved_tokens` positions
  // (all of `capacity` when absent), so that those never run short; blocks past them come from
  // what nobody reserved, as they are needed. RESOURCE_EXHAUSTED (reason KV_CACHE_FULL) when
  // fewer blocks are free than it reserves.
  absl::StatusOr<std::unique_ptr<KvCache>> Allocate(
      int64_t capacity, std::span<const int32_t> prompt = {},
      std::optional<int64_t> reserved_tokens = std::nullopt);
  // Whether the pool, empty, could hold a cache of `capacity` positions.
  bool CanEverHold(int64_t capacity) const { return KvBlocksFor(capacity) <= n_blocks_; }

  const KvCacheShape& shape() const { return shape_; }
  bool shares_prefixes() const { return sharing_ == KvSharing::kForksAndPrefixes; }
  int64_t capacity_tokens() const { return n_blocks_ * kKvBlockTokens; }
  // Positions in blocks that no cache holds or has reserved (filed blocks that nobody holds
  // count: they are given out again when needed).
  int64_t free_tokens() const;
  // Positions in filed blocks that nobody holds: the prefixes kept for later sequences.
  int64_t idle_filed_tokens() const;

  // One layer's blocks: [n_blocks, kKvBlockTokens, num_kv_heads, head_dim] in the shape's dtype.
  void* keys(int layer) const { return keys_ + layer * layer_bytes(); }
  void* values(int layer) const { return values_ + layer * layer_bytes(); }

 private:
  friend class KvCache;
  struct Block {
    int32_t holders = 0;  // caches whose tables list it
    // Copies of it reserved for forks that may write into it: holders - 1 while it is the partly
    // filled last block of forked caches, 0 otherwise.
    int32_t copies_reserved = 0;
    bool filed = false;  // in filed_, under `hash`
    uint64_t hash = 0;
    // What a match checks besides the hash, so that a collision cannot hand out another
    // prefix's keys: the hash of the blocks before it, and its own tokens.
    uint64_t prefix_hash = 0;
    std::array<int32_t, kKvBlockTokens> tokens{};
    std::list<int32_t>::iterator idle;  // its place in idle_filed_, while filed and unheld
  };

  KvCachePool(KvCacheShape shape, int64_t n_blocks, KvMemory& memory, void* keys, void* values,
              KvSharing sharing);
  int64_t layer_bytes() const {
    return n_blocks_ * kKvBlockTokens * shape_.values_per_token_per_layer() *
           static_cast<int64_t>(DTypeSize(shape_.dtype));
  }
  // The filed blocks, in order, that hold the prompt's whole blocks, short of its last token;
  // the hash of the last of them in `prefix_hash`.
  std::vector<int32_t> SharedPrefix(std::span<const int32_t> prompt, uint64_t& prefix_hash) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // A fresh block for a cache that reserved one: a free one, else the least recently released
  // idle filed one (which stops being filed). None only if more were taken than reserved.
  std::optional<int32_t> TakeBlock();
  // A fresh block for a cache that has used up its reservation, if one is neither held nor
  // reserved.
  std::optional<int32_t> TakeUnreservedBlock();
  std::optional<int32_t> TakeFreshBlock() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Blocks no cache holds or has reserved: free ones and idle filed ones, less the reservations.
  int64_t UnreservedBlocks() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return static_cast<int64_t>(free_blocks_.size() + idle_filed_.size()) - reserved_;
  }
  // The block a holder of the forked block `shared` writes into instead, with its contents:
  // `shared` itself when no other cache holds it any more, else a fresh block from the copies
  // reserved for it.
  absl::StatusOr<int32_t> BlockToWrite(int32_t shared);
  // RESOURCE_EXHAUSTED (KV_CACHE_FULL) for a request of `blocks` blocks when `free` are free.
  absl::Status FullError(int64_t blocks, int64_t free) const;
  // Files the full block `block` (after the blocks hashed as `prefix_hash`, holding `tokens`)
  // unless a block with the same contents is filed already. Returns its hash.
  uint64_t File(int32_t block, uint64_t prefix_hash, std::span<const int32_t> tokens);
  // Lets go of `blocks` and of `unused_reservation` reserved blocks never taken.
  void Release(std::span<const int32_t> blocks, int64_t unused_reservation);

  const KvCacheShape shape_;
  const int64_t n_blocks_;
  KvMemory& memory_;
  std::byte* const keys_;    // [num_layers, n_blocks, kKvBlockTokens, num_kv_heads, head_dim]
  std::byte* const values_;  // same
  const KvSharing sharing_;
  mutable absl::Mutex mutex_;
  std::vector<Block> blocks_ ABSL_GUARDED_BY(mutex_);         // [n_blocks]
  std::vector<int32_t> free_blocks_ ABSL_GUARDED_BY(mutex_);  // unheld and unfiled
  std::list<int32_t> idle_filed_ ABSL_GUARDED_BY(mutex_);     // unheld and filed, oldest first
  absl::flat_hash_map<uint64_t, int32_t> filed_ ABSL_GUARDED_BY(mutex_);  // hash -> block
  int64_t reserved_ ABSL_GUARDED_BY(mutex_) = 0;  // reserved by caches and not yet taken
};

}  // namespace tessera
