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
// per kv head or, where those are few, per query head: the first pass then writes the normalized
// result itself and no second pass runs.
// Scores are kept in log2 units (scale * log2(e) folded into the queries) so exp is one exp2.
#include "kernels/cuda/attention_decode.h"

#include <algorithm>
#include <cmath>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_dispatch.h"
#include "kernels/cuda/grid_dependency.cuh"

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

// Cache positions one block reads: a multiple of kKvChunk, as few as keep the splits within
// max_splits.
__host__ __device__ int64_t ChunkFor(int64_t visible_len, int64_t max_splits) {
  const int64_t granules = (visible_len + kKvChunk - 1) / kKvChunk;
  return kKvChunk * ((granules + max_splits - 1) / max_splits);
}

__host__ __device__ int64_t SplitsFor(int64_t visible_len, int64_t max_splits) {
  const int64_t chunk = ChunkFor(visible_len, max_splits);
  return (visible_len + chunk - 1) / chunk;
}

int SmCount() {
  int sms = 0;
  if (CurrentDeviceSms(&sms) != cudaSuccess) sms = 132;  // an H100's; the launch reports the error
  return sms;
}

// The most splits of a kv head. Blocks run in waves of as many as the GPU holds at once, and a
// partial last wave leaves SMs idle, so the splits fill whole waves where they can: at least
// enough for one wave (shared by the sequences of a batch), and more, up to four times that, where
// the time in waves of whole-length blocks, waves(s) / s, drops by a tenth. For 64 sequences of
// Llama-3-8B (512 kv heads, 396 blocks a wave) one split ran 1.3 waves; three run 3.9 waves of
// thirds. Long enough chunks keep a block's setup and merge a small part of its time.
int64_t MaxSplits(const AttentionShape& shape, int64_t n_sequences, int sms) {
  const int64_t wave = int64_t{sms} * BlocksPerSm(shape.n_heads / shape.n_kv_heads);
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

// MaxSplits, except that one sequence's context of up to kOneChunkLength visible positions is one
// chunk: a few cache rows a block cost less than a second launch to merge them.
int64_t MaxSplitsFor(const AttentionShape& shape, int64_t max_kv_len, int64_t n_sequences,
                     int sms) {
  if (n_sequences == 1 && VisibleLength(shape, max_kv_len) <= kOneChunkLength) return 1;
  return MaxSplits(shape, n_sequences, sms);
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

struct Splits {
  int64_t most;      // MaxSplits: what the chunk length is computed from
  int64_t launched;  // LaunchSplits: the grid's splits, and the partials' stride
};

// Splits a launch provides for: enough for every length up to max_kv_len (SplitsFor is not
// monotonic: where the chunk doubles, the splits halve).
int64_t LaunchSplits(const AttentionShape& shape, int64_t max_kv_len, int64_t max_splits) {
  const int64_t granules = (VisibleLength(shape, max_kv_len) + kKvChunk - 1) / kKvChunk;
  return std::min(granules, max_splits);
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

// T: the cache's element type. kGroup: the query heads a block takes (HeadsPerBlock) rounded up to
// a power of two. A sub-warp of kLanes lanes covers one cache position, each lane kVecs 16-byte
// loads of it (kPerLoad<T> consecutive dims each), so one load instruction of the warp reads
// 32 / kLanes positions: a 16-bit cache or a short head keeps every lane busy. Each sub-warp keeps
// its own online softmax over its positions; the sub-warps of a warp merge through shuffles at the
// end, then the warps through shared memory.
template <typename T, int kGroup, int kLanes, int kVecs>
__global__ void __launch_bounds__(kWarps * 32, kBlocksPerSm<kGroup>)
    AttentionDecodeChunkKernel(const float* q, const KvCacheView* cache, int64_t cache_stride,
                               AttentionShape shape, int64_t max_splits, int heads_per_block,
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
  const int64_t chunk = ChunkFor(visible_len, max_splits);
  const int64_t split = blockIdx.y;
  if (split * chunk >= visible_len) return;
  const int64_t launch_splits = gridDim.y;  // the partials' stride
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

  for (int i = threadIdx.x; i < heads * head_dim; i += blockDim.x) {
    const int g = i / head_dim;
    const int d = i % head_dim;
    float block_max = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) block_max = fmaxf(block_max, warp_max[w][g]);
    float total = 0.0f;
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float weight = exp2f(warp_max[w][g] - block_max);
      total += weight * warp_out[(w * kGroup + g) * head_dim + d];
      sum += weight * warp_sum[w][g];
    }
    const int64_t head = sequence * shape.n_heads + first_head + g;
    if (direct.data != nullptr) {
      StoreFromFloat(total / sum, direct.data, direct.dtype, head * head_dim + d);
      continue;
    }
    const int64_t partial = head * launch_splits + split;
    partials.out[partial * head_dim + d] = total;
    if (d == 0) {
      partials.max[partial] = block_max;
      partials.sum[partial] = sum;
    }
  }
}

// One block per query head. Thread t takes the dims 4 (t % vecs) to 4 (t % vecs) + 3 (vecs =
// head_dim / 4) of the chunks t / vecs, t / vecs + groups, ... (groups = threads / vecs), loading
// kMergeLoads chunks' partials before it uses any, so that a context's few hundred chunks are one
// round trip to L2; it keeps its own max, sum and output, which the block then merges through
// shared memory. O: the output's storage type.
template <typename O>
__global__ void __launch_bounds__(kMergeWarps * 32)
    AttentionDecodeMergeKernel(Partials partials, const KvCacheView* cache, int64_t cache_stride,
                               AttentionShape shape, int64_t max_splits, int64_t launch_splits,
                               O* out) {
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
  const int64_t n_splits = SplitsFor(VisibleLength(shape, cache->length), max_splits);
  WaitForPrecedingKernels();  // for the partials (the view is the host's)
  const int64_t head = sequence * shape.n_heads + blockIdx.x;  // among all sequences' heads
  const float* max = partials.max + head * launch_splits;      // [n_splits]
  const float* sum = partials.sum + head * launch_splits;      // [n_splits]
  const float4* head_out =
      reinterpret_cast<const float4*>(partials.out + head * launch_splits * shape.head_dim);
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
                                  AttentionShape shape, int64_t max_splits, int64_t launch_splits,
                                  O* out) {
  const int head_dim = shape.head_dim;
  const int head_of_sequence = blockIdx.x * kFewMergeWarps + static_cast<int>(threadIdx.x / 32);
  if (head_of_sequence >= shape.n_heads) return;
  const int64_t sequence = blockIdx.z;
  cache += sequence * cache_stride;
  const int64_t n_splits = SplitsFor(VisibleLength(shape, cache->length), max_splits);
  WaitForPrecedingKernels();  // for the partials (the view is the host's)
  const int64_t head = sequence * shape.n_heads + head_of_sequence;  // among all sequences' heads
  const int lane = threadIdx.x % 32;
  const float* max = partials.max + head * launch_splits;                  // [n_splits]
  const float* sum = partials.sum + head * launch_splits;                  // [n_splits]
  const float* head_out = partials.out + head * launch_splits * head_dim;  // [n_splits, head_dim]
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
      q, cache.first, cache.stride, shape, splits.most, heads_per_block, shape.scale * kLog2E,
      partials, direct);
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
  // Fewer sequences may take more splits each, and more partials in all.
  const int sms = SmCount();
  size_t bytes = 0;
  for (int64_t n = 1; n <= n_sequences; ++n) {
    const int64_t splits = LaunchSplits(shape, max_kv_len, MaxSplitsFor(shape, max_kv_len, n, sms));
    bytes = std::max(bytes, PartialsLayout(shape, splits, n).Bytes());
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
  const int64_t max_splits = MaxSplitsFor(shape, max_kv_len, n_sequences, SmCount());
  const Splits splits{max_splits, LaunchSplits(shape, max_kv_len, max_splits)};
  // This launch's partials, which AttentionDecodeWorkspaceBytes covers for every n_sequences up
  // to the one it was given (checking against it here would walk them all on every launch).
  const PartialsLayout layout(shape, splits.launched, n_sequences);
  TESSERA_CUDA_CHECK_ARG(workspace_bytes >= layout.Bytes());
  const Partials partials = layout.In(workspace);
  const SequenceViews views{cache, cache_stride, n_sequences};
  const DirectOutput direct{splits.launched == 1 ? out : nullptr, out_dtype};
  TESSERA_CUDA_RETURN_IF_ERROR(DispatchDType(cache_dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return LaunchChunksForGroup<T>(q, views, shape, splits, partials, direct, stream);
  }));
  if (direct.data != nullptr) return cudaSuccess;
  return DispatchDType(out_dtype, [&](auto tag) {
    using O = typename decltype(tag)::type;
    if (splits.launched <= kMaxFewSplits) {
      const dim3 grid((shape.n_heads + kFewMergeWarps - 1) / kFewMergeWarps, 1,
                      static_cast<unsigned>(n_sequences));
      AttentionDecodeMergeFewKernel<<<grid, kFewMergeWarps * 32, 0, stream>>>(
          partials, cache, cache_stride, shape, splits.most, splits.launched, static_cast<O*>(out));
    } else {
      const dim3 grid(shape.n_heads, 1, static_cast<unsigned>(n_sequences));
      AttentionDecodeMergeKernel<<<grid, kMergeWarps * 32, 0, stream>>>(
          partials, cache, cache_stride, shape, splits.most, splits.launched, static_cast<O*>(out));
    }
    return cudaGetLastError();
  });
}

}  // namespace tessera::cuda
