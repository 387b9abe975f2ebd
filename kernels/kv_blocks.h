// The paged KV-cache layout every attention kernel reads, CPU and CUDA alike. One layer's keys
// (and, alike, its values) are a pool of blocks of kKvBlockTokens positions,
//   [n_blocks, kKvBlockTokens, n_kv_heads, head_dim],
// and a sequence's cache is the list of its blocks in position order (its block table): position
// p lives in row KvRow(block_table, p) of the pool. Sequences so take memory a block at a time
// from one allocation made when the model loads, and can share blocks (a common prompt prefix).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define TESSERA_HOST_DEVICE __host__ __device__
#else
#define TESSERA_HOST_DEVICE
#endif

namespace tessera {

// Positions per block. 16, as in vLLM: small enough that a sequence wastes little of its last
// block, large enough that one table entry covers many 16-byte loads.
inline constexpr int64_t kKvBlockTokens = 16;

// Blocks that hold `positions` positions.
TESSERA_HOST_DEVICE inline int64_t KvBlocksFor(int64_t positions) {
  return (positions + kKvBlockTokens - 1) / kKvBlockTokens;
}

// The pool row that holds `position` of the sequence whose blocks `block_table` lists.
TESSERA_HOST_DEVICE inline int64_t KvRow(const int32_t* block_table, int64_t position) {
  return int64_t{block_table[position / kKvBlockTokens]} * kKvBlockTokens +
         position % kKvBlockTokens;
}

}  // namespace tessera
