// One layer's KV cache of one sequence as kernels find it in device memory when they run, rather
// than in their launch arguments: a decode step captured once in a CUDA graph then replays for any
// sequence at any length, whatever the step's copy of these views says.
#pragma once

#include <cstdint>

#include "kernels/kv_blocks.h"

namespace tessera::cuda {

// The cache's element type (fp32, bf16 or fp16) is the same for every step of a model; kernels
// take it as a launch argument. The layout is kernels/kv_blocks.h's.
struct KvCacheView {
  void* keys = nullptr;    // the layer's pool of blocks: [n_blocks, kKvBlockTokens, n_kv_heads,
                           // head_dim]
  void* values = nullptr;  // same
  const int32_t* block_table = nullptr;  // [KvBlocksFor(length)] block ids, device memory
  int64_t length = 0;                    // positions that hold keys and values
};

#ifdef __CUDACC__
// What a kernel reads one kv head of a cache through.
template <typename T>
struct KvHeadPointers {
  const T* keys;  // the head's values in block 0, row 0; rows and blocks at the pool's strides
  const T* values;
  const int32_t* block_table;
};

template <typename T>
__device__ __forceinline__ KvHeadPointers<T> HeadPointers(const KvCacheView* cache, int kv_head,
                                                          int head_dim) {
  const KvHeadPointers<T> head{static_cast<const T*>(cache->keys) + kv_head * head_dim,
                               static_cast<const T*>(cache->values) + kv_head * head_dim,
                               cache->block_table};
  // Pointers read from memory could point anywhere, for all the compiler knows, shared memory
  // included; told they are global, it may move their loads past a kernel's shared-memory
  // stores.
  __builtin_assume(__isGlobal(head.keys));
  __builtin_assume(__isGlobal(head.values));
  __builtin_assume(__isGlobal(head.block_table));
  return head;
}
#endif  // __CUDACC__

}  // namespace tessera::cuda
