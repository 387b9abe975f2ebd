// First pass, one block of kWarps warps per (kv head, chunk of positions): every query
// head of the kv head's group is handled by the same block, so each K and V row is read from
// memory once for the whole group. A position is covered by a sub-warp of 8, 16 or 32 lanes, each
// lane holding the 4 (fp32) or 8 (16-bit cache) consecutive dims of one 16-byte load. Each
// sub-warp keeps its own running (online) softmax over the positions it takes, kInFlight at a
// time: it issues the K and V loads of all of them before the first use, so many bytes are in
// flight per SM (a position's K and V rows are the pool row its block table entry gives; the
// positions a warp loads at once lie in at most three blocks, whose entries it reads once); then
// per position the group's dot products are reduced across the sub-warp and folded into the
// running max, sum and output held in registers. The queries sit in registers too, sized by the
// group and head_dim at compile time. At the end the sub-warps merge through shuffles and the
// block's warps through shared memory.
// Second pass, one block per query head: each thread loads a share of the chunks' partial results
// for a few dims at once and merges them by the online-softmax rule, and the block merges its
// threads' results through shared memory and normalizes by the global sum. Launches of few chunks
// a head (short contexts, large batches) merge with one warp a head instead, each lane walking
// every chunk for its dims: the block-wide merge costs more than the work there (12 us for 64
// sequences of Llama-3-8B).
// The first pass prefetches its first positions' keys and values into L2 before it waits for the
// kernels before it, since only the newest position's are theirs.
// One sequence's short context (kOneChunkLength visible positions or fewer) is one chunk, a block
// per kv head or, in the CUDA-core pass where those are few, per query head: the first pass then
// writes the normalized result itself and no second pass runs.
// A 16-bit cache whose groups of query heads fill half an mma's rows or more takes a first pass
// on tensor cores instead (AttentionDecodeTensorCoreKernel): the CUDA-core pass spends most of its
// instructions on the group's dot products and their cross-lane sums (qwen2.5-0.5b's groups of 7
// at context 8192 issued 0.4 instructions a cycle a scheduler while reading 11% of the memory
// bandwidth).
// Scores are kept in log2 units (scale * log2(e) folded into the queries) so exp is one exp2.
#include "kernels/cuda/attention_decode.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"
#include "kernels/cuda/grid_dependency.cuh"
#include "kernels/cuda/warp_mma.cuh"

namespace tessera::cuda {
namespace {

constexpr int kWarps = 4;
// Blocks per SM the registers must allow: four (128 registers a thread) for groups of 1 and 2,
// three for groups of 4 and two for 8, which need more for their queries and outputs (fewer
// would spill).
constexpr int BlocksPerSm(int group) { return group <= 2 ? 4 : group <= 4 ? 3 : 2; }
template <int kGroup>
constexpr int kBlocksPerSm = BlocksPerSm(kGroup);
constexpr int kMaxGroup = 8;  // query heads per kv head
constexpr int kMaxHeadDim = 256;
constexpr int kMergeWarps = 8;
constexpr int kMergeLoads = 8;     // chunks' partials a merge thread loads at once
constexpr int kMaxFewSplits = 4;   // launches of at most this many splits a head merge by warps
constexpr int kFewMergeWarps = 4;  // heads a block of that merge
constexpr float kLog2E = 1.4426950408889634f;
constexpr int64_t kOneChunkLength = 256;
constexpr int kOneChunkKvHeads = 8;

// The tensor-core first pass: a warp takes kTileKeys positions at a time, and has kTileStages
// tiles' copies in flight. Shared rows are padded by kTilePad values, so that the eight 16-byte
// rows an ldmatrix reads fall in distinct banks. Head_dim 128 takes tiles of 16 positions, so
// that two blocks fit an SM, and no more (at three its registers spill). With 32, one block did,
// and 4 warps an SM read 64 sequences' caches of 512 positions at 73% of the copy bandwidth; 16
// took llama-3-8b's batch-64 step from 7242-7255 to 7442-7445 tokens/s and batch 1 at context
// 8192 from 150.5-150.9 to 153.7-153.9, for 1 token/s less at 128 (164.4, one chunk a kv head
// taking more tiles a warp), on an H100.
template <int D>
constexpr int kTileKeys = D == 128 ? 16 : 32;
constexpr int kTileStages = 2;
constexpr int kTilePad = 8;
template <int D>
constexpr int kTileRowStride = D + kTilePad;
template <int D>
constexpr int kTileValues = kTileKeys<D>* kTileRowStride<D>;  // one K or V tile
// Every warp's stages of a K and a V tile, 16-bit values.
template <int D>
constexpr size_t kTensorCoreSharedBytes = size_t{kWarps} * kTileStages * 2 * kTileValues<D> * 2;
// As many blocks as an SM's 227 KB of shared memory holds (each also takes 1 KB of the system's),
// up to what the registers allow.
template <int D>
constexpr int kTensorCoreBlocksPerSm = static_cast<int>(
    std::min<size_t>(D == 128 ? 2 : 4, 227 * 1024 / (kTensorCoreSharedBytes<D> + 1024)));

// Where the first pass leaves chunk s of query head h.
struct Partials {
  float* out;  // [n_heads, n_splits, head_dim]: sum_p 2^(score_p - max) v_p
  float* max;  // [n_heads, n_splits], log2 units
  float* sum;  // [n_heads, n_splits]: sum_p 2^(score_p - max)
};

// Where a launch of one chunk a kv head writes the result itself, with no merge pass after it;
// data nullptr where the chunks leave partials.
struct DirectOutput {
  void* data;  // [n_sequences, n_heads, head_dim]
  DType dtype;
};

// Where the partials of n_splits chunks of every head of n_sequences sequences lie in a workspace:
// the three arrays of Partials one after another, sequence z's partials after sequence z - 1's
// within each.
struct PartialsLayout {
  int64_t n_partials;  // n_sequences * n_heads * n_splits
  int64_t head_dim;

  PartialsLayout(const AttentionShape& shape, int64_t n_splits, int64_t n_sequences)
      : n_partials(n_sequences * shape.n_heads * n_splits), head_dim(shape.head_dim) {}

  size_t Bytes() const { return static_cast<size_t>(n_partials * (head_dim + 2)) * sizeof(float); }

  Partials In(void* workspace) const {
    float* base = static_cast<float*>(workspace);
    return {base, base + n_partials * head_dim, base + n_partials * (head_dim + 1)};
  }
};

// Cache positions the query sees: the last sliding_window of kv_len, or all of them.
__host__ __device__ int64_t VisibleLength(const AttentionShape& shape, int64_t kv_len) {
  return shape.sliding_window > 0 && shape.sliding_window < kv_len ? shape.sliding_window
                                                                   : kv_len;
}

// How a launch divides each kv head's visible positions into chunks, a first-pass block each.
struct Splits {
  int64_t most;      // MaxSplits: what the chunk length is computed from
  int64_t launched;  // the grid's splits, and the partials' stride
  int64_t granule;   // chunks are multiples of this many positions (FirstPass::granule)
};

// Cache positions one block reads: a multiple of splits.granule, as few as keep the splits within
// splits.most.
__host__ __device__ int64_t ChunkFor(int64_t visible_len, const Splits& splits) {
  const int64_t granules = (visible_len + splits.granule - 1) / splits.granule;
  return splits.granule * ((granules + splits.most - 1) / splits.most);
}

__host__ __device__ int64_t SplitsFor(int64_t visible_len, const Splits& splits) {
  const int64_t chunk = ChunkFor(visible_len, splits);
  return (visible_len + chunk - 1) / chunk;
}

int SmCount() {
  int sms = 0;
  if (CurrentDeviceSms(&sms) != cudaSuccess) sms = 132;  // an H100's; the launch reports the error
  return sms;
}

// One sequence's context of up to kOneChunkLength visible positions is one chunk: a few cache
// rows a block cost less than a second launch to merge them.
bool OneChunk(const AttentionShape& shape, int64_t max_kv_len, int64_t n_sequences) {
  return n_sequences == 1 && VisibleLength(shape, max_kv_len) <= kOneChunkLength;
}

// The first pass a launch runs.
struct FirstPass {
  bool tensor_cores;  // AttentionDecodeTensorCoreKernel, else AttentionDecodeChunkKernel
  int blocks_per_sm;  // of its blocks, that an SM holds at once
  int64_t granule;    // positions its chunks are multiples of: a block's warps each take a tile
};

// Tensor cores for a 16-bit cache whose groups of 4 or more query heads fill half an mma's rows or
// more, head_dim 64 or 128. Also for one sequence's short context, one chunk a kv head: for
// qwen2.5-0.5b's two kv heads at context 128 two such blocks decode faster than the CUDA-core
// pass's block a query head (the whole step 1484-1486 against 1436-1444 tokens/s on an H100).
FirstPass FirstPassFor(const AttentionShape& shape, DType cache_dtype) {
  const int group = shape.n_heads / shape.n_kv_heads;
  const bool tensor_cores =
      cache_dtype != DType::kF32 && group >= 4 && (shape.head_dim == 64 || shape.head_dim == 128);
  if (!tensor_cores) return {false, BlocksPerSm(group), kKvChunk};
  if (shape.head_dim == 64) return {true, kTensorCoreBlocksPerSm<64>, kWarps * kTileKeys<64>};
  return {true, kTensorCoreBlocksPerSm<128>, kWarps * kTileKeys<128>};
}

// The most splits of a kv head. Blocks run in waves of as many as the GPU holds at once, and a
// partial last wave leaves SMs idle, so the splits fill whole waves where they can: at least
// enough for one wave (shared by the sequences of a batch), and more, up to four times that, where
// the time in waves of whole-length blocks, waves(s) / s, drops by a tenth. For 64 sequences of
// Llama-3-8B (512 kv heads, 396 blocks a wave) one split ran 1.3 waves; three run 3.9 waves of
// thirds. Long enough chunks keep a block's setup and merge a small part of its time.
int64_t MaxSplits(const AttentionShape& shape, int64_t n_sequences, int blocks_per_sm, int sms) {
  const int64_t wave = int64_t{sms} * blocks_per_sm;
  const int64_t kv_heads = shape.n_kv_heads * n_sequences;
  const auto waves_per_split = [&](int64_t splits) {
    return static_cast<double>((kv_heads * splits + wave - 1) / wave) / splits;
  };
  const int64_t fewest = std::max<int64_t>(1, wave / kv_heads);
  int64_t best = fewest;
  for (int64_t splits = fewest + 1; splits <= 4 * fewest; ++splits) {
    if (waves_per_split(splits) < 0.9 * waves_per_split(best)) best = splits;
  }
  return best;
}

// The splits of a launch for contexts of up to max_kv_len positions: MaxSplits, or one where
// OneChunk; launched, enough for every length up to max_kv_len (SplitsFor is not monotonic: where
// the chunk doubles, the splits halve).
Splits SplitsOf(const AttentionShape& shape, const FirstPass& pass, int64_t max_kv_len,
                int64_t n_sequences, int sms) {
  const int64_t most = OneChunk(shape, max_kv_len, n_sequences)
                           ? 1
                           : MaxSplits(shape, n_sequences, pass.blocks_per_sm, sms);
  const int64_t granules = (VisibleLength(shape, max_kv_len) + pass.granule - 1) / pass.granule;
  return {most, std::min(granules, most), pass.granule};
}

// The query heads a first-pass block takes: its kv head's group, so that each key and value is
// read once for all of them; or one, where one sequence's chunk a kv head would leave the GPU
// fewer than kOneChunkKvHeads blocks (two kv heads of qwen2.5-0.5b in one block each decoded
// slower than in four chunks and a merge). The group's blocks then each read its keys and values,
// a few kilobytes that L2 serves.
int HeadsPerBlock(const AttentionShape& shape, int64_t n_sequences, int64_t launched_splits) {
  const bool few_blocks = n_sequences == 1 && launched_splits == 1 &&
                          shape.n_kv_heads < kOneChunkKvHeads;
  return few_blocks ? 1 : shape.n_heads / shape.n_kv_heads;
}

// Asks L2 to fetch the line holding `address` from memory, without waiting for it.
__device__ __forceinline__ void PrefetchToL2(const void* address) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(address));
}

__device__ __forceinline__ void ScaleAdd(float4& acc, float scale, float weight, float4 v) {
  acc.x = acc.x * scale + weight * v.x;
  acc.y = acc.y * scale + weight * v.y;
  acc.z = acc.z * scale + weight * v.z;
  acc.w = acc.w * scale + weight * v.w;
}

// Cache values in one 16-byte load.
template <typename T>
constexpr int kPerLoad = 16 / sizeof(T);

// The kPerLoad<T> cache values of one 16-byte load, as floats.
template <typename T>
__device__ __forceinline__ void Widen(uint4 raw, float (&out)[kPerLoad<T>]) {
  const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if constexpr (sizeof(T) == 4) {
      out[i] = __uint_as_float(words[i]);
    } else {
      const float2 pair = ToFloat2(words[i], T{});
      out[2 * i] = pair.x;
      out[2 * i + 1] = pair.y;
    }
  }
}

// Replaces each v[j] by its sum over the kLanes lanes of this lane's sub-warp (lanes
// [kLanes * s, kLanes * (s + 1))). Rather than N separate sums, the values are halved round by
// round: in the round of offset o the lanes with bit o set keep the upper half and their partners
// the lower, each adding what the other sends, so after log2(N) rounds a lane holds one value's
// partial sum (value (lane % kLanes) / (kLanes / N)); the remaining rounds finish the sums and N
// shuffles hand each total to every lane of the sub-warp.
template <int N, int kLanes>
__device__ __forceinline__ void SubWarpSumEach(float (&v)[N], int lane) {
  static_assert(N >= 1 && N <= kLanes && (N & (N - 1)) == 0);
  int offset = kLanes / 2;
#pragma unroll
  for (int n = N; n > 1; n /= 2, offset /= 2) {
    const bool upper = (lane & offset) != 0;
#pragma unroll
    for (int i = 0; i < n / 2; ++i) {
      const float send = upper ? v[i] : v[i + n / 2];
      const float keep = upper ? v[i + n / 2] : v[i];
      v[i] = keep + __shfl_xor_sync(0xffffffffu, send, offset);
    }
  }
  float total = v[0];
  for (; offset > 0; offset /= 2) total += __shfl_xor_sync(0xffffffffu, total, offset);
  const int base = lane / kLanes * kLanes;
#pragma unroll
  for (int j = 0; j < N; ++j) v[j] = __shfl_sync(0xffffffffu, total, base + j * (kLanes / N));
}

// The results of a first-pass block's warps for its query heads, in shared memory: warp w's for
// the block's head g are max[w * rows + g], sum[w * rows + g] and out[(w * rows + g) * head_dim..].
struct WarpResults {
  const float* max;
  const float* sum;
  const float* out;
  int rows;  // per warp
};

// Merges the block's warps' results for its `heads` query heads (a warp that took no position has
// max -inf and weight 0), first_head among all sequences' heads, and stores them: normalized as
// the output where the block's chunk is its heads' only one, else as chunk `split`'s partials.
__device__ void MergeWarpsAndStore(const WarpResults& warps, int heads, int64_t first_head,
                                   int head_dim, int64_t split, int64_t launched_splits,
                                   const Partials& partials, const DirectOutput& direct) {
  for (int i = threadIdx.x; i < heads * head_dim; i += blockDim.x) {
    const int g = i / head_dim;
    const int d = i % head_dim;
    float block_max = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) block_max = fmaxf(block_max, warps.max[w * warps.rows + g]);
    float total = 0.0f;
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float weight = exp2f(warps.max[w * warps.rows + g] - block_max);
      total += weight * warps.out[(w * warps.rows + g) * head_dim + d];
      sum += weight * warps.sum[w * warps.rows + g];
    }
    const int64_t head = first_head + g;
    if (direct.data != nullptr) {
      StoreFromFloat(total / sum, direct.data, direct.dtype, head * head_dim + d);
      continue;
    }
    const int64_t partial = head * launched_splits + split;
    partials.out[partial * head_dim + d] = total;
    if (d == 0) {
      partials.max[partial] = block_max;
      partials.sum[partial] = sum;
    }
  }
}

// T: the cache's element type. kGroup: the query heads a block takes (HeadsPerBlock) rounded up to
// a power of two. A sub-warp of kLanes lanes covers one cache position, each lane kVecs 16-byte
// loads of it (kPerLoad<T> consecutive dims each), so one load instruction of the warp reads
// 32 / kLanes positions: a 16-bit cache or a short head keeps every lane busy. Each sub-warp keeps
// its own online softmax over its positions; the sub-warps of a warp merge through shuffles at the
// end, then the warps through shared memory.
template <typename T, int kGroup, int kLanes, int kVecs>
__global__ void __launch_bounds__(kWarps * 32, kBlocksPerSm<kGroup>)
    AttentionDecodeChunkKernel(const float* q, const KvCacheView* cache, int64_t cache_stride,
                               AttentionShape shape, Splits splits, int heads_per_block,
                               float scale_log2, Partials partials, DirectOutput direct) {
  constexpr int kPer = kPerLoad<T>;
  constexpr int kSubWarps = 32 / kLanes;
  // Positions a sub-warp loads before using them; large groups hold more scores, so fewer.
  constexpr int kInFlight = (kGroup >= 8 ? 4 : 8) / kVecs;
  constexpr int kWarpPositions = kSubWarps * kInFlight;
  __shared__ float warp_max[kWarps][kGroup];
  __shared__ float warp_sum[kWarps][kGroup];
  extern __shared__ float4 warp_out_vecs[];
  float* warp_out = reinterpret_cast<float*>(warp_out_vecs);  // [kWarps, kGroup, head_dim]

  const int64_t sequence = blockIdx.z;
  cache += sequence * cache_stride;
  q += sequence * shape.n_heads * shape.head_dim;
  // The launch covers the longest context it may see; blocks past this one's chunks have none.
  const int64_t kv_len = cache->length;
  const int64_t visible_len = VisibleLength(shape, kv_len);
  const int64_t chunk = ChunkFor(visible_len, splits);
  const int64_t split = blockIdx.y;
  if (split * chunk >= visible_len) return;
  const int n_kv_heads = shape.n_kv_heads;
  const int group = shape.n_heads / n_kv_heads;
  const int heads = heads_per_block;  // query heads [first_head, first_head + heads)
  const int first_head = static_cast<int>(blockIdx.x) * heads;
  const int kv_head = first_head / group;
  const int head_dim = shape.head_dim;
  // Positions before the window are never read.
  const int64_t first = kv_len - visible_len + split * chunk;
  const int64_t chunk_len = kv_len - first < chunk ? kv_len - first : chunk;
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int sub_warp = lane / kLanes;
  const int sub_lane = lane % kLanes;
  const int64_t kv_row = static_cast<int64_t>(n_kv_heads) * head_dim;  // one cache position
  const T* k_head = static_cast<const T*>(cache->keys) + kv_head * head_dim;
  const T* v_head = static_cast<const T*>(cache->values) + kv_head * head_dim;
  const int32_t* block_table = cache->block_table;
  // A sweep of the warp covers positions [first + p0, first + p0 + kWarpPositions) (at most 32), so
  // at most kSweepBlocks blocks, whose table entries it loads once for all its positions. Entries
  // past the chunk's last block are loaded as that block's, so that no load needs a branch (which
  // would keep the sweep's loads from being issued together).
  constexpr int kSweepBlocks = (kWarpPositions + kKvBlockTokens - 2) / kKvBlockTokens + 1;
  const int64_t last_block = (first + chunk_len - 1) / kKvBlockTokens;
  // The first dim of this lane's load v of a position.
  const auto dim = [&](int v) { return kPer * sub_lane + kLanes * kPer * v; };

  // Calls visit(j, p, row_offset) for the positions first + p (p = p0 + j * kSubWarps + sub_warp)
  // this lane reads in the sweep from p0, row_offset being their keys' and values' offset in the
  // pools, KvRow(block_table, first + p) * kv_row.
  const auto for_sweep_rows = [&](int64_t p0, auto visit) {
    const int64_t sweep_block = (first + p0) / kKvBlockTokens;
    const int sweep_offset = static_cast<int>((first + p0) % kKvBlockTokens);  // in that block
    int32_t blocks[kSweepBlocks];
#pragma unroll
    for (int b = 0; b < kSweepBlocks; ++b) {
      const int64_t entry = sweep_block + b < last_block ? sweep_block + b : last_block;
      blocks[b] = __ldg(block_table + entry);
    }
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
      const int in_sweep = sweep_offset + j * kSubWarps + sub_warp;
      int32_t block = blocks[0];
#pragma unroll
      for (int b = 1; b < kSweepBlocks; ++b) {
        if (in_sweep >= b * kKvBlockTokens) block = blocks[b];
      }
      visit(j, p0 + j * kSubWarps + sub_warp,
            (int64_t{block} * kKvBlockTokens + in_sweep % kKvBlockTokens) * kv_row);
    }
  };

  // Earlier steps wrote the keys and values (all but the newest position's, which the preceding
  // kernel stores through L2, so a prefetch cannot make them stale): the first sweep's are
  // prefetched into L2 before the wait, its DRAM round trip then overlapping the preceding
  // kernel. (Loading them into registers instead spilled the groups of 2 and 4.) The view read
  // above is the host's; q is the preceding kernels'.
  for_sweep_rows(warp * kWarpPositions, [&](int, int64_t p, int64_t row_offset) {
#pragma unroll
    for (int v = 0; v < kVecs; ++v) {
      if (p < chunk_len && dim(v) < head_dim) {
        PrefetchToL2(k_head + row_offset + dim(v));
        PrefetchToL2(v_head + row_offset + dim(v));
      }
    }
  });
  WaitForPrecedingKernels();

  // The group's queries, pre-scaled, the dims this lane loads.
  float q_lane[kGroup][kVecs][kPer] = {};
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
#pragma unroll
    for (int v = 0; v < kVecs; ++v) {
      if (g < heads && dim(v) < head_dim) {
        const float4* from =
            reinterpret_cast<const float4*>(q + (first_head + g) * head_dim + dim(v));
#pragma unroll
        for (int i = 0; i < kPer / 4; ++i) {
          const float4 value = from[i];
          q_lane[g][v][4 * i] = value.x * scale_log2;
          q_lane[g][v][4 * i + 1] = value.y * scale_log2;
          q_lane[g][v][4 * i + 2] = value.z * scale_log2;
          q_lane[g][v][4 * i + 3] = value.w * scale_log2;
        }
      }
    }
  }

  float run_max[kGroup];
  float run_sum[kGroup] = {};
  float out_lane[kGroup][kVecs][kPer] = {};
#pragma unroll
  for (int g = 0; g < kGroup; ++g) run_max[g] = -INFINITY;

  for (int64_t p0 = warp * kWarpPositions; p0 < chunk_len; p0 += kWarps * kWarpPositions) {
    uint4 k_raw[kInFlight][kVecs];
    uint4 v_raw[kInFlight][kVecs];
    for_sweep_rows(p0, [&](int j, int64_t p, int64_t row_offset) {
#pragma unroll
      for (int v = 0; v < kVecs; ++v) {
        const bool loads = p < chunk_len && dim(v) < head_dim;
        k_raw[j][v] = loads ? *reinterpret_cast<const uint4*>(k_head + row_offset + dim(v))
                            : make_uint4(0, 0, 0, 0);
        v_raw[j][v] = loads ? *reinterpret_cast<const uint4*>(v_head + row_offset + dim(v))
                            : make_uint4(0, 0, 0, 0);
      }
    });
    // Each key and value is widened once and used by every query head of the group.
    float score[kGroup][kInFlight] = {};
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
#pragma unroll
      for (int v = 0; v < kVecs; ++v) {
        float keys[kPer];
        Widen<T>(k_raw[j][v], keys);
#pragma unroll
        for (int g = 0; g < kGroup; ++g) {
#pragma unroll
          for (int i = 0; i < kPer; ++i) score[g][j] += q_lane[g][v][i] * keys[i];
        }
      }
    }
    // Scores become the weights 2^(score - max), and the output so far is rescaled to the new max.
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      SubWarpSumEach<kInFlight, kLanes>(score[g], lane);
      float tile_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < kInFlight; ++j) {
        if (p0 + j * kSubWarps + sub_warp >= chunk_len) score[g][j] = -INFINITY;
        tile_max = fmaxf(tile_max, score[g][j]);
      }
      const float new_max = fmaxf(run_max[g], tile_max);
      // -inf: this sub-warp has had no position yet; its weights are 0 and nothing changes.
      const float rescale = new_max == -INFINITY ? 1.0f : exp2f(run_max[g] - new_max);
      run_max[g] = new_max;
      run_sum[g] *= rescale;
#pragma unroll
      for (int j = 0; j < kInFlight; ++j) {
        score[g][j] = new_max == -INFINITY ? 0.0f : exp2f(score[g][j] - new_max);
        run_sum[g] += score[g][j];
      }
#pragma unroll
      for (int v = 0; v < kVecs; ++v) {
#pragma unroll
        for (int i = 0; i < kPer; ++i) out_lane[g][v][i] *= rescale;
      }
    }
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
#pragma unroll
      for (int v = 0; v < kVecs; ++v) {
        float values[kPer];
        Widen<T>(v_raw[j][v], values);
#pragma unroll
        for (int g = 0; g < kGroup; ++g) {
#pragma unroll
          for (int i = 0; i < kPer; ++i) out_lane[g][v][i] += score[g][j] * values[i];
        }
      }
    }
  }

  // Merge the sub-warps into the first: a sub-warp that took no position has max -inf and
  // weight 0.
#pragma unroll
  for (int offset = kLanes; offset < 32; offset *= 2) {
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      const float other_max = __shfl_xor_sync(0xffffffffu, run_max[g], offset);
      const float other_sum = __shfl_xor_sync(0xffffffffu, run_sum[g], offset);
      const float merged_max = fmaxf(run_max[g], other_max);
      const float mine = merged_max == -INFINITY ? 0.0f : exp2f(run_max[g] - merged_max);
      const float theirs = merged_max == -INFINITY ? 0.0f : exp2f(other_max - merged_max);
      run_max[g] = merged_max;
      run_sum[g] = run_sum[g] * mine + other_sum * theirs;
#pragma unroll
      for (int v = 0; v < kVecs; ++v) {
#pragma unroll
        for (int i = 0; i < kPer; ++i) {
          const float other = __shfl_xor_sync(0xffffffffu, out_lane[g][v][i], offset);
          out_lane[g][v][i] = out_lane[g][v][i] * mine + other * theirs;
        }
      }
    }
  }

  // Merge the warps: a warp that took no position has max -inf and weight 0.
  if (sub_warp == 0) {
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      if (lane == 0) {
        warp_max[warp][g] = run_max[g];
        warp_sum[warp][g] = run_sum[g];
      }
#pragma unroll
      for (int v = 0; v < kVecs; ++v) {
        if (dim(v) < head_dim) {
          float4* to =
              reinterpret_cast<float4*>(warp_out + (warp * kGroup + g) * head_dim + dim(v));
#pragma unroll
          for (int i = 0; i < kPer / 4; ++i) {
            to[i] = {out_lane[g][v][4 * i], out_lane[g][v][4 * i + 1], out_lane[g][v][4 * i + 2],
                     out_lane[g][v][4 * i + 3]};
          }
        }
      }
    }
  }
  __syncthreads();

  const WarpResults results{&warp_max[0][0], &warp_sum[0][0], warp_out, kGroup};
  MergeWarpsAndStore(results, heads, sequence * shape.n_heads + first_head, head_dim, split,
                     splits.launched, partials, direct);
}

// The first pass on tensor cores, for a 16-bit cache T and head_dim D: a block of kWarps warps
// per (kv head, chunk); warp w takes the chunk's tiles of kTileKeys positions w, w + kWarps, ...
// Each warp copies its tiles' K and V rows into shared memory of its own with cp.async, kTileStages
// tiles ahead, the first ones before it waits for the preceding kernel (all but the newest
// position, which the preceding kernel writes: that one is copied through registers after the
// wait). The group's query heads are the rows of the mma's A operand (rows past the group and
// rows 8-15 are zeros), so that one m16n8k16 mma scores 8 positions for all of them, and a second
// mma multiplies the probabilities, whose accumulator layout is already the A-fragment layout, by
// V (from ldmatrix.trans). Tensor cores multiply 16-bit operands, so the fp32 query is split into
// kQueryTerms 16-bit terms that sum to it (three bf16 or two fp16 terms: fp32's 24 bits), and each
// probability into two: each term is one more mma, and the results match fp32 arithmetic as the
// CUDA-core pass does, while the pass stays bound by the cache's bytes.
template <typename T, int D>
__global__ void __launch_bounds__(kWarps * 32, kTensorCoreBlocksPerSm<D>)
    AttentionDecodeTensorCoreKernel(const float* q, const KvCacheView* cache, int64_t cache_stride,
                                    AttentionShape shape, Splits splits, float scale_log2,
                                    Partials partials, DirectOutput direct) {
  static_assert(D % 32 == 0, "fragments are loaded for two mma steps at a time");
  constexpr int kStride = kTileRowStride<D>;
  constexpr int kKeys = kTileKeys<D>;
  constexpr int kParts = D / 8;              // 16-byte pieces of a row
  constexpr int kRowsPerPass = 32 / kParts;  // rows one copy instruction of the warp covers
  constexpr int kQueryTerms = std::is_same_v<T, __nv_bfloat16> ? 3 : 2;
  constexpr int kProbabilityTerms = 2;
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  T* shared = reinterpret_cast<T*>(shared_bytes);

  const int64_t sequence = blockIdx.z;
  cache += sequence * cache_stride;
  q += sequence * shape.n_heads * D;
  // The launch covers the longest context it may see; blocks past this one's chunks have none.
  const int64_t kv_len = cache->length;
  const int64_t visible_len = VisibleLength(shape, kv_len);
  const int64_t chunk = ChunkFor(visible_len, splits);
  const int64_t split = blockIdx.y;
  if (split * chunk >= visible_len) return;
  const int group = shape.n_heads / shape.n_kv_heads;
  const int kv_head = blockIdx.x;
  const int first_head = kv_head * group;
  // Positions before the window are never read.
  const int64_t first = kv_len - visible_len + split * chunk;
  const int64_t chunk_len = kv_len - first < chunk ? kv_len - first : chunk;
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int g = lane / 4;  // the query head (A row) and position (B column) this lane serves
  const int t = lane % 4;  // its pair of columns (A) or rows (B)
  // The row and the matrix whose address this lane gives ldmatrix.
  const int matrix_row = lane % 8;
  const int matrix = lane / 8;
  const int64_t kv_row = static_cast<int64_t>(shape.n_kv_heads) * D;  // one cache position
  const T* k_head = static_cast<const T*>(cache->keys) + kv_head * D;
  const T* v_head = static_cast<const T*>(cache->values) + kv_head * D;
  const int32_t* block_table = cache->block_table;
  T* warp_tiles = shared + warp * kTileStages * 2 * kTileValues<D>;
  const auto k_tile = [&](int stage) { return warp_tiles + 2 * stage * kTileValues<D>; };
  const auto v_tile = [&](int stage) { return warp_tiles + (2 * stage + 1) * kTileValues<D>; };
  const int n_tiles = static_cast<int>((chunk_len + kKeys - 1) / kKeys);
  const int warp_n_tiles = n_tiles > warp ? (n_tiles - warp + kWarps - 1) / kWarps : 0;
  // The first position of this warp's tile i, in the chunk.
  const auto tile_start = [&](int i) { return int64_t{warp + kWarps * i} * kKeys; };
  const int64_t newest = kv_len - 1;  // the preceding kernel's position
  // This lane copies 16-byte piece `part` of rows pass_row, pass_row + kRowsPerPass, ...
  const int part = lane % kParts;
  const int pass_row = lane / kParts;

  // Copies the warp's tile i into stage i % kTileStages; positions past the chunk become zeros
  // (their scores are masked, and zero values keep their products finite). Before the wait the
  // newest position is left out.
  const auto stage_tile = [&](int i, bool waited) {
    const int stage = i % kTileStages;
#pragma unroll
    for (int c = 0; c < kKeys / kRowsPerPass; ++c) {
      const int key = c * kRowsPerPass + pass_row;
      const int64_t index = tile_start(i) + key;
      const bool valid = index < chunk_len;
      if (first + index == newest && !waited) continue;
      const int64_t offset = (valid ? KvRow(block_table, first + index) * kv_row : 0) + part * 8;
      CopyAsync16(k_tile(stage) + key * kStride + part * 8, k_head + offset, valid);
      CopyAsync16(v_tile(stage) + key * kStride + part * 8, v_head + offset, valid);
    }
  };
#pragma unroll
  for (int i = 0; i < kTileStages; ++i) {
    if (i < warp_n_tiles) stage_tile(i, /*waited=*/false);
    CommitCopies();
  }
  WaitForPrecedingKernels();
  {
    const int64_t index = newest - first;  // in the chunk, if it is this block's
    const int tile = static_cast<int>(index / kKeys);
    const int key = static_cast<int>(index % kKeys);
    if (index < chunk_len && tile % kWarps == warp && tile / kWarps < kTileStages &&
        key % kRowsPerPass == pass_row) {
      const int stage = tile / kWarps;
      const int64_t offset = KvRow(block_table, newest) * kv_row + part * 8;
      *reinterpret_cast<uint4*>(k_tile(stage) + key * kStride + part * 8) =
          __ldcg(reinterpret_cast<const uint4*>(k_head + offset));
      *reinterpret_cast<uint4*>(v_tile(stage) + key * kStride + part * 8) =
          __ldcg(reinterpret_cast<const uint4*>(v_head + offset));
    }
  }

  // Row g's A-fragment registers 0 and 2 of each mma step (dims 16 kk + 2 t and 16 kk + 8 + 2 t),
  // pre-scaled, as kQueryTerms terms; the rows past the group are zeros.
  uint32_t q_frag[kQueryTerms][D / 16][2];
  const bool real_row = g < group;
  const float* q_row = q + (first_head + (real_row ? g : 0)) * D;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const float2 loaded = *reinterpret_cast<const float2*>(q_row + kk * 16 + half * 8 + 2 * t);
      float2 rest = real_row ? make_float2(loaded.x * scale_log2, loaded.y * scale_log2)
                             : make_float2(0.0f, 0.0f);
#pragma unroll
      for (int term = 0; term < kQueryTerms; ++term) {
        q_frag[term][kk][half] = Pack<T>(rest.x, rest.y);
        const float2 taken = ToFloat2(q_frag[term][kk][half], T{});
        rest = make_float2(rest.x - taken.x, rest.y - taken.y);
      }
    }
  }

  float run_max = -INFINITY;  // row g's, over the positions so far
  float run_sum = 0.0f;       // this lane's share of row g's; summed over the quad at the end
  float o[D / 8][4] = {};     // row g's output dims 8 jd + 2 t, + 1 (entries 2, 3: rows 8-15)
  for (int i = 0; i < warp_n_tiles; ++i) {
    WaitForCopyGroups<kTileStages - 1>();  // tile i's copies, this lane's
    __syncwarp();                          // and every lane's
    const int stage = i % kTileStages;
    const T* keys = k_tile(stage);
    const T* values = v_tile(stage);

    // Scores: matrices 0-3 are positions 8 j.. of dims 16 kk + 0, 8, 16, 24: B fragments for
    // steps kk and kk + 1.
    float s[kKeys / 8][4] = {};
#pragma unroll
    for (int kk = 0; kk < D / 16; kk += 2) {
#pragma unroll
      for (int j = 0; j < kKeys / 8; ++j) {
        uint32_t b[4];
        LoadMatrices<false>(b, keys + (j * 8 + matrix_row) * kStride + matrix * 8 + kk * 16);
#pragma unroll
        for (int term = 0; term < kQueryTerms; ++term) {
          const uint32_t a0[4] = {q_frag[term][kk][0], 0u, q_frag[term][kk][1], 0u};
          const uint32_t a1[4] = {q_frag[term][kk + 1][0], 0u, q_frag[term][kk + 1][1], 0u};
          Mma<T>(s[j], a0, b[0], b[1]);
          Mma<T>(s[j], a1, b[2], b[3]);
        }
      }
    }

    // Positions past the chunk (in its last tile) are masked; every tile has one that is not, so
    // the new max is finite.
    float tile_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        if (tile_start(i) + j * 8 + 2 * t + e >= chunk_len) s[j][e] = -INFINITY;
        tile_max = fmaxf(tile_max, s[j][e]);
      }
    }
    const float new_max = fmaxf(run_max, QuadMax(tile_max));
    const float rescale = exp2f(run_max - new_max);
    run_max = new_max;
    run_sum *= rescale;
#pragma unroll
    for (int jd = 0; jd < D / 8; ++jd) {
      o[jd][0] *= rescale;
      o[jd][1] *= rescale;
    }
#pragma unroll
    for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        s[j][e] = exp2f(s[j][e] - new_max);
        run_sum += s[j][e];
      }
    }

    // Values: matrices 0-3 are positions 16 kk + 0 and + 8 of dims 8 jd.., then of dims
    // 8 (jd + 1)..; transposed, they are the B fragments of steps jd and jd + 1.
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      uint32_t p[kProbabilityTerms][4];
      float2 rest[2] = {make_float2(s[2 * kk][0], s[2 * kk][1]),
                        make_float2(s[2 * kk + 1][0], s[2 * kk + 1][1])};
#pragma unroll
      for (int term = 0; term < kProbabilityTerms; ++term) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const uint32_t packed = Pack<T>(rest[half].x, rest[half].y);
          const float2 taken = ToFloat2(packed, T{});
          rest[half] = make_float2(rest[half].x - taken.x, rest[half].y - taken.y);
          p[term][2 * half] = packed;
          p[term][2 * half + 1] = 0u;
        }
      }
      const T* value_row =
          values + (kk * 16 + matrix % 2 * 8 + matrix_row) * kStride + matrix / 2 * 8;
#pragma unroll
      for (int jd = 0; jd < D / 8; jd += 2) {
        uint32_t b[4];
        LoadMatrices<true>(b, value_row + jd * 8);
#pragma unroll
        for (int term = 0; term < kProbabilityTerms; ++term) {
          Mma<T>(o[jd], p[term], b[0], b[1]);
          Mma<T>(o[jd + 1], p[term], b[2], b[3]);
        }
      }
    }
    __syncwarp();  // every lane has read the stage before it takes tile i + kTileStages
    if (i + kTileStages < warp_n_tiles) stage_tile(i + kTileStages, /*waited=*/true);
    CommitCopies();
  }

  // Every warp's result into shared memory (the tiles are free once all are done), as
  // MergeWarpsAndStore reads it: out [kWarps][kMaxGroup][D], then max and sum [kWarps][kMaxGroup].
  static_assert(kWarps * kMaxGroup * (D + 2) * sizeof(float) <= kTensorCoreSharedBytes<D>,
                "the warps' results fit where their tiles were");
  run_sum = QuadSum(run_sum);
  __syncthreads();
  float* warp_out = reinterpret_cast<float*>(shared_bytes);
  float* warp_max = warp_out + kWarps * kMaxGroup * D;
  float* warp_sum = warp_max + kWarps * kMaxGroup;
  if (real_row) {
#pragma unroll
    for (int jd = 0; jd < D / 8; ++jd) {
      *reinterpret_cast<float2*>(warp_out + (warp * kMaxGroup + g) * D + jd * 8 + 2 * t) =
          make_float2(o[jd][0], o[jd][1]);
    }
    if (t == 0) {
      warp_max[warp * kMaxGroup + g] = run_max;
      warp_sum[warp * kMaxGroup + g] = run_sum;
    }
  }
  __syncthreads();
  const WarpResults results{warp_max, warp_sum, warp_out, kMaxGroup};
  MergeWarpsAndStore(results, group, sequence * shape.n_heads + first_head, D, split,
                     splits.launched, partials, direct);
}

// One block per query head. Thread t takes the dims 4 (t % vecs) to 4 (t % vecs) + 3 (vecs =
// head_dim / 4) of the chunks t / vecs, t / vecs + groups, ... (groups = threads / vecs), loading
// kMergeLoads chunks' partials before it uses any, so that a context's few hundred chunks are one
// round trip to L2; it keeps its own max, sum and output, which the block then merges through
// shared memory. O: the output's storage type.
template <typename O>
__global__ void __launch_bounds__(kMergeWarps * 32)
    AttentionDecodeMergeKernel(Partials partials, const KvCacheView* cache, int64_t cache_stride,
                               AttentionShape shape, Splits splits, O* out) {
  constexpr int kThreads = kMergeWarps * 32;
  __shared__ float thread_max[kThreads];
  __shared__ float thread_sum[kThreads];
  __shared__ float4 thread_out[kThreads];
  const int vecs = shape.head_dim / 4;
  const int groups = kThreads / vecs;
  const int vec = static_cast<int>(threadIdx.x) % vecs;
  const int group = static_cast<int>(threadIdx.x) / vecs;  // groups and past: no chunks
  const int64_t sequence = blockIdx.z;
  cache += sequence * cache_stride;
  const int64_t n_splits = SplitsFor(VisibleLength(shape, cache->length), splits);
  WaitForPrecedingKernels();  // for the partials (the view is the host's)
  const int64_t head = sequence * shape.n_heads + blockIdx.x;  // among all sequences' heads
  const float* max = partials.max + head * splits.launched;    // [n_splits]
  const float* sum = partials.sum + head * splits.launched;    // [n_splits]
  const float4* head_out =
      reinterpret_cast<const float4*>(partials.out + head * splits.launched * shape.head_dim);
  float run_max = -INFINITY;
  float run_sum = 0.0f;
  float4 acc = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int64_t s0 = group < groups ? group : n_splits; s0 < n_splits;
       s0 += int64_t{kMergeLoads} * groups) {
    float chunk_max[kMergeLoads];
    float chunk_sum[kMergeLoads];
    float4 chunk_out[kMergeLoads];
#pragma unroll
    for (int i = 0; i < kMergeLoads; ++i) {
      const int64_t s = s0 + int64_t{i} * groups;
      const bool loads = s < n_splits;
      chunk_max[i] = loads ? max[s] : -INFINITY;
      chunk_sum[i] = loads ? sum[s] : 0.0f;
      chunk_out[i] = loads ? head_out[s * vecs + vec] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
    // chunk s0 is a real one, so new_max is finite.
    float new_max = run_max;
#pragma unroll
    for (int i = 0; i < kMergeLoads; ++i) new_max = fmaxf(new_max, chunk_max[i]);
    const float rescale = exp2f(run_max - new_max);
    run_sum *= rescale;
    acc = make_float4(acc.x * rescale, acc.y * rescale, acc.z * rescale, acc.w * rescale);
#pragma unroll
    for (int i = 0; i < kMergeLoads; ++i) {
      const float weight = exp2f(chunk_max[i] - new_max);
      run_sum += weight * chunk_sum[i];
      ScaleAdd(acc, 1.0f, weight, chunk_out[i]);
    }
    run_max = new_max;
  }
  thread_max[threadIdx.x] = run_max;
  thread_sum[threadIdx.x] = run_sum;
  thread_out[threadIdx.x] = acc;
  __syncthreads();
  if (static_cast<int>(threadIdx.x) >= vecs) return;
  // Group 0 took chunk 0, so the global max is finite.
  float global_max = -INFINITY;
  for (int g = 0; g < groups; ++g) global_max = fmaxf(global_max, thread_max[g * vecs + vec]);
  float global_sum = 0.0f;
  float4 total = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int g = 0; g < groups; ++g) {
    const float weight = exp2f(thread_max[g * vecs + vec] - global_max);
    global_sum += weight * thread_sum[g * vecs + vec];
    ScaleAdd(total, 1.0f, weight, thread_out[g * vecs + vec]);
  }
  const float inv_sum = 1.0f / global_sum;
  O* result = out + head * shape.head_dim + 4 * vec;
  Store2FromFloat(total.x * inv_sum, total.y * inv_sum, result);
  Store2FromFloat(total.z * inv_sum, total.w * inv_sum, result + 2);
}

// One warp a head (kFewMergeWarps heads a block): lane l merges dims 4 l + 128 v over the chunks.
template <typename O>
__global__ void __launch_bounds__(kFewMergeWarps * 32)
    AttentionDecodeMergeFewKernel(Partials partials, const KvCacheView* cache, int64_t cache_stride,
                                  AttentionShape shape, Splits splits, O* out) {
  const int head_dim = shape.head_dim;
  const int head_of_sequence = blockIdx.x * kFewMergeWarps + static_cast<int>(threadIdx.x / 32);
  if (head_of_sequence >= shape.n_heads) return;
  const int64_t sequence = blockIdx.z;
  cache += sequence * cache_stride;
  const int64_t n_splits = SplitsFor(VisibleLength(shape, cache->length), splits);
  WaitForPrecedingKernels();  // for the partials (the view is the host's)
  const int64_t head = sequence * shape.n_heads + head_of_sequence;  // among all sequences' heads
  const int lane = threadIdx.x % 32;
  const float* max = partials.max + head * splits.launched;                  // [n_splits]
  const float* sum = partials.sum + head * splits.launched;                  // [n_splits]
  const float* head_out = partials.out + head * splits.launched * head_dim;  // [n_splits, head_dim]
  float global_max = -INFINITY;
  for (int64_t s = 0; s < n_splits; ++s) global_max = fmaxf(global_max, max[s]);
  float global_sum = 0.0f;
  float4 acc[kMaxHeadDim / 128] = {};
  for (int64_t s = 0; s < n_splits; ++s) {
    const float weight = exp2f(max[s] - global_max);
    global_sum += weight * sum[s];
#pragma unroll
    for (int v = 0; v < kMaxHeadDim / 128; ++v) {
      const int d = 4 * lane + 128 * v;
      if (d < head_dim) {
        ScaleAdd(acc[v], 1.0f, weight,
                 *reinterpret_cast<const float4*>(head_out + s * head_dim + d));
      }
    }
  }
  const float inv_sum = 1.0f / global_sum;
  O* head_result = out + head * head_dim;
#pragma unroll
  for (int v = 0; v < kMaxHeadDim / 128; ++v) {
    const int d = 4 * lane + 128 * v;
    if (d < head_dim) {
      Store2FromFloat(acc[v].x * inv_sum, acc[v].y * inv_sum, head_result + d);
      Store2FromFloat(acc[v].z * inv_sum, acc[v].w * inv_sum, head_result + d + 2);
    }
  }
}

// The sequences of a launch: sequence z reads its cache through first[z * stride].
struct SequenceViews {
  const KvCacheView* first;
  int64_t stride;
  int64_t count;
};

template <typename T, int kGroup, int kLanes, int kVecs>
cudaError_t LaunchChunks(const float* q, const SequenceViews& cache, const AttentionShape& shape,
                         const Splits& splits, int heads_per_block, const Partials& partials,
                         const DirectOutput& direct, cudaStream_t stream) {
  const size_t shared_bytes = kWarps * kGroup * shape.head_dim * sizeof(float);
  const dim3 grid(shape.n_heads / heads_per_block, static_cast<unsigned>(splits.launched),
                  static_cast<unsigned>(cache.count));
  AttentionDecodeChunkKernel<T, kGroup, kLanes, kVecs><<<grid, kWarps * 32, shared_bytes, stream>>>(
      q, cache.first, cache.stride, shape, splits, heads_per_block, shape.scale * kLog2E, partials,
      direct);
  return cudaGetLastError();
}

template <typename T, int D>
cudaError_t LaunchTensorCore(const float* q, const SequenceViews& cache,
                             const AttentionShape& shape, const Splits& splits,
                             const Partials& partials, const DirectOutput& direct,
                             cudaStream_t stream) {
  const auto kernel = AttentionDecodeTensorCoreKernel<T, D>;
  // Over the 48 KB a block gets unasked; set on every launch, as it holds per device.
  TESSERA_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(
      kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kTensorCoreSharedBytes<D>));
  const dim3 grid(shape.n_kv_heads, static_cast<unsigned>(splits.launched),
                  static_cast<unsigned>(cache.count));
  kernel<<<grid, kWarps * 32, kTensorCoreSharedBytes<D>, stream>>>(
      q, cache.first, cache.stride, shape, splits, shape.scale * kLog2E, partials, direct);
  return cudaGetLastError();
}

// The fewest lanes a position whose loads cover head_dim: 8 (16-bit heads up to 64), 16, or
// 32 with one or (fp32 heads over 128) two loads each.
template <typename T, int kGroup>
cudaError_t LaunchChunksForHeadDim(const float* q, const SequenceViews& cache,
                                   const AttentionShape& shape, const Splits& splits,
                                   int heads_per_block, const Partials& partials,
                                   const DirectOutput& direct, cudaStream_t stream) {
  constexpr int kPer = kPerLoad<T>;
  const int head_dim = shape.head_dim;
  if constexpr (kPer == 8) {
    if (head_dim <= 8 * kPer) {
      return LaunchChunks<T, kGroup, 8, 1>(q, cache, shape, splits, heads_per_block, partials,
                                           direct, stream);
    }
  }
  if (head_dim <= 16 * kPer) {
    return LaunchChunks<T, kGroup, 16, 1>(q, cache, shape, splits, heads_per_block, partials,
                                          direct, stream);
  }
  if constexpr (kPer == 4) {
    if (head_dim > 32 * kPer) {
      return LaunchChunks<T, kGroup, 32, 2>(q, cache, shape, splits, heads_per_block, partials,
                                            direct, stream);
    }
  }
  return LaunchChunks<T, kGroup, 32, 1>(q, cache, shape, splits, heads_per_block, partials, direct,
                                        stream);
}

template <typename T>
cudaError_t LaunchChunksForGroup(const float* q, const SequenceViews& cache,
                                 const AttentionShape& shape, const Splits& splits,
                                 const Partials& partials, const DirectOutput& direct,
                                 cudaStream_t stream) {
  const int heads_per_block = HeadsPerBlock(shape, cache.count, splits.launched);
  if (heads_per_block == 1) {
    return LaunchChunksForHeadDim<T, 1>(q, cache, shape, splits, heads_per_block, partials, direct,
                                        stream);
  }
  if (heads_per_block == 2) {
    return LaunchChunksForHeadDim<T, 2>(q, cache, shape, splits, heads_per_block, partials, direct,
                                        stream);
  }
  if (heads_per_block <= 4) {
    return LaunchChunksForHeadDim<T, 4>(q, cache, shape, splits, heads_per_block, partials, direct,
                                        stream);
  }
  return LaunchChunksForHeadDim<T, 8>(q, cache, shape, splits, heads_per_block, partials, direct,
                                      stream);
}

}  // namespace

size_t AttentionDecodeWorkspaceBytes(const AttentionShape& shape, int64_t max_kv_len,
                                     int64_t n_sequences) {
  // Fewer sequences may take more splits each, and more partials in all; the first pass of an
  // fp32 cache and of a 16-bit one may split differently.
  const int sms = SmCount();
  size_t bytes = 0;
  for (int64_t n = 1; n <= n_sequences; ++n) {
    for (const DType cache_dtype : {DType::kF32, DType::kBF16}) {
      const FirstPass pass = FirstPassFor(shape, cache_dtype);
      const Splits splits = SplitsOf(shape, pass, max_kv_len, n, sms);
      bytes = std::max(bytes, PartialsLayout(shape, splits.launched, n).Bytes());
    }
  }
  return bytes;
}

cudaError_t AttentionDecode(const float* q, const KvCacheView* cache, DType cache_dtype,
                            int64_t max_kv_len, const AttentionShape& shape, void* workspace,
                            size_t workspace_bytes, float* out, cudaStream_t stream) {
  return AttentionDecodeBatch(q, cache, /*cache_stride=*/1, /*n_sequences=*/1, cache_dtype,
                              max_kv_len, shape, workspace, workspace_bytes, out, DType::kF32,
                              stream);
}

cudaError_t AttentionDecodeBatch(const float* q, const KvCacheView* cache, int64_t cache_stride,
                                 int64_t n_sequences, DType cache_dtype, int64_t max_kv_len,
                                 const AttentionShape& shape, void* workspace,
                                 size_t workspace_bytes, void* out, DType out_dtype,
                                 cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(max_kv_len >= 1 && shape.n_kv_heads > 0 && shape.n_heads > 0);
  TESSERA_CUDA_CHECK_ARG(n_sequences >= 1 && n_sequences <= kMaxSequences && cache_stride >= 1);
  TESSERA_CUDA_CHECK_ARG(shape.n_heads % shape.n_kv_heads == 0);
  TESSERA_CUDA_CHECK_ARG(shape.n_heads / shape.n_kv_heads <= kMaxGroup);
  // Whole 16-byte loads: 4 fp32 or 8 16-bit values.
  const int values_per_load = cache_dtype == DType::kF32 ? 4 : 8;
  TESSERA_CUDA_CHECK_ARG(shape.head_dim > 0 && shape.head_dim % values_per_load == 0 &&
                         shape.head_dim <= kMaxHeadDim);
  TESSERA_CUDA_CHECK_ARG(shape.sliding_window >= 0);
  const FirstPass pass = FirstPassFor(shape, cache_dtype);
  const Splits splits = SplitsOf(shape, pass, max_kv_len, n_sequences, SmCount());
  // This launch's partials, which AttentionDecodeWorkspaceBytes covers for every n_sequences up
  // to the one it was given (checking against it here would walk them all on every launch).
  const PartialsLayout layout(shape, splits.launched, n_sequences);
  TESSERA_CUDA_CHECK_ARG(workspace_bytes >= layout.Bytes());
  const Partials partials = layout.In(workspace);
  const SequenceViews views{cache, cache_stride, n_sequences};
  const DirectOutput direct{splits.launched == 1 ? out : nullptr, out_dtype};
  TESSERA_CUDA_RETURN_IF_ERROR(DispatchDType(cache_dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (sizeof(T) == 2) {
      if (pass.tensor_cores) {
        return shape.head_dim == 64
                   ? LaunchTensorCore<T, 64>(q, views, shape, splits, partials, direct, stream)
                   : LaunchTensorCore<T, 128>(q, views, shape, splits, partials, direct, stream);
      }
    }
    return LaunchChunksForGroup<T>(q, views, shape, splits, partials, direct, stream);
  }));
  if (direct.data != nullptr) return cudaSuccess;
  return DispatchDType(out_dtype, [&](auto tag) {
    using O = typename decltype(tag)::type;
    if (splits.launched <= kMaxFewSplits) {
      const dim3 grid((shape.n_heads + kFewMergeWarps - 1) / kFewMergeWarps, 1,
                      static_cast<unsigned>(n_sequences));
      AttentionDecodeMergeFewKernel<<<grid, kFewMergeWarps * 32, 0, stream>>>(
          partials, cache, cache_stride, shape, splits, static_cast<O*>(out));
    } else {
      const dim3 grid(shape.n_heads, 1, static_cast<unsigned>(n_sequences));
      AttentionDecodeMergeKernel<<<grid, kMergeWarps * 32, 0, stream>>>(
          partials, cache, cache_stride, shape, splits, static_cast<O*>(out));
    }
    return cudaGetLastError();
  });
}

}  // namespace tessera::cuda
