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

}  // namespace tessera::cuda
