// A draw is a walk along the cumulative distribution, so every stage reduces to two kernels: one
// block per slice of 2048 weights sums its slice, then one block scans the slice sums, finds the
// slice where the running sum crosses the threshold, and scans that slice alone for the index.
//
// In id order (no top-k, no top-p) the weights are read straight from the adjusted logits. Most
// likely first, the tokens that can matter are gathered before sorting: a histogram of how far
// each tempered logit lies below the largest (eighths of a unit, 32 units) shows how far down
// top-k's count or top-p's mass reaches (one bucket beyond for the mass, whose float sums may
// round either way); the tokens up to there are compacted as 64-bit keys (the logit's bits
// ordered as unsigned, then the inverted id, so that a descending radix sort puts equal logits
// lower id first, as the CPU does) and only they are sorted. Their number comes back to the host
// to size the sort: one wait on the stream.
#include "kernels/cuda/token_draw.h"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cuda/functional>

#include "kernels/cuda/cuda_check.h"

namespace tessera::cuda {
namespace {

constexpr int kSliceThreads = 256;
constexpr int kPerThread = 8;
constexpr int64_t kSlice = kSliceThreads * kPerThread;
constexpr int kScanThreads = kSliceThreads;  // the crossing search scans one slice
constexpr int kSlicesPerThread = 4;
constexpr int kMaxSlices = kScanThreads * kSlicesPerThread;  // vocabularies up to 2^21
constexpr int kBuckets = 256;
constexpr float kBucketsPerUnit = 8.0f;
constexpr int64_t kNone = INT64_MAX;

// The tempered logits in id order: the adjusted logits divided by the temperature here.
struct IdOrderKeys {
  const float* adjusted;
  float temperature;
  const TokenChoice* greedy;  // its token holds the largest adjusted logit

  __device__ float MaxKey() const { return adjusted[greedy->token] / temperature; }
  __device__ float Key(int64_t i) const { return adjusted[i] / temperature; }
  __device__ int32_t Token(int64_t i) const { return static_cast<int32_t>(i); }
};

__device__ uint32_t OrderedBits(float key) {
  const uint32_t bits = __float_as_uint(key);
  return bits & 0x80000000u ? ~bits : bits | 0x80000000u;
}

__device__ float FromOrderedBits(uint32_t ordered) {
  return __uint_as_float(ordered & 0x80000000u ? ordered & 0x7fffffffu : ~ordered);
}

// The gathered tokens, sorted most likely first.
struct SortedKeys {
  const uint64_t* keys;

  __device__ float MaxKey() const { return Key(0); }
  __device__ float Key(int64_t i) const {
    return FromOrderedBits(static_cast<uint32_t>(keys[i] >> 32));
  }
  __device__ int32_t Token(int64_t i) const {
    return static_cast<int32_t>(~static_cast<uint32_t>(keys[i]));
  }
};

// How many of the keys count: a bound known on the host, lowered by a cut the device found.
struct Extent {
  int64_t bound;
  const int64_t* cut = nullptr;  // null: none

  __device__ int64_t Get() const { return cut != nullptr && *cut < bound ? *cut : bound; }
};

// Unnormalized probabilities: exp(key - max_key) for the first n keys when at least min_p.
template <typename Keys>
struct Weights {
  Keys keys;
  float max_key;
  int64_t n;
  float min_p;

  __device__ float operator()(int64_t i) const {
    if (i >= n) return 0.0f;
    const float q = expf(keys.Key(i) - max_key);
    return q >= min_p ? q : 0.0f;
  }
};

template <typename Keys>
__device__ Weights<Keys> WeightsOf(const Keys& keys, const Extent& extent, float min_p) {
  return {keys, keys.MaxKey(), extent.Get(), min_p};
}

template <typename Keys>
__global__ void __launch_bounds__(kSliceThreads)
    SliceSumsKernel(Keys keys, Extent extent, float min_p, float* sums) {
  using Reduce = cub::BlockReduce<float, kSliceThreads>;
  __shared__ typename Reduce::TempStorage storage;
  const Weights<Keys> weights = WeightsOf(keys, extent, min_p);
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) {
    sum += weights(blockIdx.x * kSlice + j * kSliceThreads + threadIdx.x);
  }
  const float total = Reduce(storage).Sum(sum);
  if (threadIdx.x == 0) sums[blockIdx.x] = total;
}

// What a crossing search reports: the token drawn, or the end of top-p's prefix.
struct CrossingOutput {
  TokenChoice* choice = nullptr;  // the drawn token and its logit, from `logits`
  const float* logits = nullptr;
  int64_t* prefix_end = nullptr;  // else: one past the crossing index (n when none)
};

// Finds the first index whose running weight sum crosses fraction * total: >= when or_equal,
// else >. The total is the sum of total_sums, or (null) of the weights. `sums` are the weights'
// slice sums, null when they fit one slice. Where rounding leaves no crossing, a draw takes the
// last weighted token and a prefix is left whole.
template <typename Keys>
__global__ void __launch_bounds__(kScanThreads)
    CrossingKernel(Keys keys, Extent extent, float min_p, const float* sums, int n_slices,
                   const float* total_sums, int n_total_sums, double fraction, bool or_equal,
                   CrossingOutput output) {
  using Reduce = cub::BlockReduce<float, kScanThreads>;
  using IndexReduce = cub::BlockReduce<int64_t, kScanThreads>;
  using Scan = cub::BlockScan<float, kScanThreads>;
  __shared__ union {
    typename Reduce::TempStorage reduce;
    typename IndexReduce::TempStorage index;
    typename Scan::TempStorage scan;
  } storage;
  __shared__ float threshold, slice_start;
  __shared__ int64_t slice;
  const Weights<Keys> weights = WeightsOf(keys, extent, min_p);
  const auto crosses = [&](float running) {
    return or_equal ? running >= threshold : running > threshold;
  };
  // Threshold from a total: valid in every thread after the call.
  const auto set_threshold = [&](float total) {
    if (threadIdx.x == 0) threshold = static_cast<float>(fraction * total);
    __syncthreads();
  };

  if (total_sums != nullptr) {
    float mine = 0.0f;
    for (int i = threadIdx.x; i < n_total_sums; i += kScanThreads) mine += total_sums[i];
    set_threshold(Reduce(storage.reduce).Sum(mine));
  }
  if (threadIdx.x == 0) {
    slice = 0;
    slice_start = 0.0f;
  }
  if (sums != nullptr) {  // the slice: kSlicesPerThread consecutive sums per thread
    float held[kSlicesPerThread];
    float mine = 0.0f;
#pragma unroll
    for (int j = 0; j < kSlicesPerThread; ++j) {
      const int s = threadIdx.x * kSlicesPerThread + j;
      held[j] = s < n_slices ? sums[s] : 0.0f;
      mine += held[j];
    }
    float before = 0.0f, all = 0.0f;
    __syncthreads();
    Scan(storage.scan).ExclusiveSum(mine, before, all);
    if (total_sums == nullptr) set_threshold(all);
    int64_t candidate = kNone;
#pragma unroll
    for (int j = 0; j < kSlicesPerThread; ++j) {
      if (candidate == kNone && held[j] > 0.0f && crosses(before + held[j])) {
        candidate = threadIdx.x * kSlicesPerThread + j;
      } else if (candidate == kNone) {
        before += held[j];
      }
    }
    __syncthreads();
    const int64_t first = IndexReduce(storage.index).Reduce(candidate, ::cuda::minimum<>());
    if (threadIdx.x == 0) slice = first;
    __syncthreads();
    if (candidate != kNone && candidate == slice) slice_start = before;
  }
  __syncthreads();

  // The index inside it: kPerThread consecutive weights per thread.
  int64_t index = kNone;
  if (slice != kNone) {
    const int64_t first = slice * kSlice + threadIdx.x * kPerThread;
    float w[kPerThread];
    float mine = 0.0f;
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      w[j] = weights(first + j);
      mine += w[j];
    }
    float prefix = 0.0f, all = 0.0f;
    Scan(storage.scan).ExclusiveSum(mine, prefix, all);
    if (sums == nullptr && total_sums == nullptr) set_threshold(all);
    float running = slice_start + prefix;
    int64_t candidate = kNone;
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      running += w[j];
      if (candidate == kNone && w[j] > 0.0f && crosses(running)) candidate = first + j;
    }
    __syncthreads();
    index = IndexReduce(storage.index).Reduce(candidate, ::cuda::minimum<>());
  }
  if (threadIdx.x != 0) return;
  if (output.prefix_end != nullptr) {
    *output.prefix_end = index != kNone ? index + 1 : weights.n;
    return;
  }
  if (index == kNone) {  // the last weighted token
    for (index = weights.n - 1; index > 0 && weights(index) == 0.0f; --index) {
    }
  }
  const int32_t token = keys.Token(index);
  output.choice->token = token;
  output.choice->token_logit = output.logits[token];
}

struct Histogram {
  uint32_t count[kBuckets];
  float mass[kBuckets];
};

__device__ int BucketOf(float key, float max_key) {
  const float below = (max_key - key) * kBucketsPerUnit;
  return below < kBuckets - 1 ? static_cast<int>(below) : kBuckets - 1;
}

__global__ void __launch_bounds__(kSliceThreads)
    HistogramKernel(IdOrderKeys keys, int64_t vocab, Histogram* histogram) {
  __shared__ Histogram local;
  for (int b = threadIdx.x; b < kBuckets; b += kSliceThreads) {
    local.count[b] = 0;
    local.mass[b] = 0.0f;
  }
  __syncthreads();
  const float max_key = keys.MaxKey();
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) {
    const int64_t i = blockIdx.x * kSlice + j * kSliceThreads + threadIdx.x;
    if (i >= vocab) break;
    const float key = keys.Key(i);
    const int bucket = BucketOf(key, max_key);
    atomicAdd(&local.count[bucket], 1u);
    atomicAdd(&local.mass[bucket], expf(key - max_key));
  }
  __syncthreads();
  for (int b = threadIdx.x; b < kBuckets; b += kSliceThreads) {
    if (local.count[b] == 0) continue;
    atomicAdd(&histogram->count[b], local.count[b]);
    atomicAdd(&histogram->mass[b], local.mass[b]);
  }
}

// The last bucket whose tokens must be gathered: where top-k's count is reached or, without
// top-k, one beyond where top-p's share of the mass is (the masses are summed in no fixed order,
// so the share's bucket may be off by rounding).
__device__ int LastBucketNeeded(const Histogram& histogram, int64_t top_k, float top_p) {
  float total_mass = 0.0f;
  for (int b = 0; b < kBuckets; ++b) total_mass += histogram.mass[b];
  int64_t count = 0;
  float mass = 0.0f;
  for (int b = 0; b < kBuckets; ++b) {
    count += histogram.count[b];
    mass += histogram.mass[b];
    if (top_k > 0 && count >= top_k) return b;
    if (top_k == 0 && mass >= top_p * total_mass) return min(b + 1, kBuckets - 1);
  }
  return kBuckets - 1;
}

__global__ void __launch_bounds__(kSliceThreads)
    GatherKernel(IdOrderKeys keys, int64_t vocab, int64_t top_k, float top_p,
                 const Histogram* histogram, uint64_t* gathered, unsigned* n_gathered) {
  using Scan = cub::BlockScan<int, kSliceThreads>;
  __shared__ typename Scan::TempStorage storage;
  __shared__ int last_bucket;
  __shared__ unsigned block_start;
  if (threadIdx.x == 0) last_bucket = LastBucketNeeded(*histogram, top_k, top_p);
  __syncthreads();
  const float max_key = keys.MaxKey();
  bool take[kPerThread];
  int mine = 0;
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) {
    const int64_t i = blockIdx.x * kSlice + j * kSliceThreads + threadIdx.x;
    take[j] = i < vocab && BucketOf(keys.Key(i), max_key) <= last_bucket;
    mine += take[j];
  }
  int before = 0, block_total = 0;
  Scan(storage).ExclusiveSum(mine, before, block_total);
  if (threadIdx.x == 0) block_start = atomicAdd(n_gathered, static_cast<unsigned>(block_total));
  __syncthreads();
  unsigned at = block_start + before;
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) {
    if (!take[j]) continue;
    const int64_t i = blockIdx.x * kSlice + j * kSliceThreads + threadIdx.x;
    // + 0.0f makes -0 into +0, which the CPU's comparison ties with +0.
    const uint32_t ordered = OrderedBits(keys.Key(i) + 0.0f);
    gathered[at++] = static_cast<uint64_t>(ordered) << 32 | ~static_cast<uint32_t>(i);
  }
}

int SlicesFor(int64_t n) { return static_cast<int>((n + kSlice - 1) / kSlice); }

size_t SortBytes(int64_t vocab) {
  size_t bytes = 0;
  cub::DeviceRadixSort::SortKeysDescending(nullptr, bytes, static_cast<const uint64_t*>(nullptr),
                                           static_cast<uint64_t*>(nullptr),
                                           static_cast<int>(vocab));
  return bytes;
}

// The workspace, carved in this order.
struct DrawWorkspace {
  float* sums;        // [kMaxSlices]: the weights' slice sums
  float* total_sums;  // [kMaxSlices]: the slice sums top-p's share is taken of
  int64_t* prefix_end;
  Histogram* histogram;
  unsigned* n_gathered;
  uint64_t* gathered;  // [vocab]
  uint64_t* sorted;    // [vocab]
  void* sort_storage;
  size_t sort_bytes;
  size_t total_bytes;

  // With a null base, only total_bytes is meaningful.
  DrawWorkspace(void* base, int64_t vocab) {
    total_bytes = 0;
    const auto carve = [&](size_t bytes) {
      char* start = base == nullptr ? nullptr : static_cast<char*>(base) + total_bytes;
      total_bytes += WorkspaceAligned(bytes);
      return start;
    };
    sums = reinterpret_cast<float*>(carve(kMaxSlices * sizeof(float)));
    total_sums = reinterpret_cast<float*>(carve(kMaxSlices * sizeof(float)));
    prefix_end = reinterpret_cast<int64_t*>(carve(sizeof(int64_t)));
    histogram = reinterpret_cast<Histogram*>(carve(sizeof(Histogram)));
    n_gathered = reinterpret_cast<unsigned*>(carve(sizeof(unsigned)));  // right after: one memset
    gathered = reinterpret_cast<uint64_t*>(carve(vocab * sizeof(uint64_t)));
    sorted = reinterpret_cast<uint64_t*>(carve(vocab * sizeof(uint64_t)));
    sort_bytes = SortBytes(vocab);
    sort_storage = carve(sort_bytes);
  }
};

// The draw over `keys` (n of them, cut to top_k): top-p's prefix first when asked for, its share
// taken of `total_sums` (null: of the top-k weights), then the draw itself.
template <typename Keys>
cudaError_t DrawAlong(const Keys& keys, int64_t n, const TokenDraw& draw, const float* total_sums,
                      int n_total_sums, const float* logits, const DrawWorkspace& w,
                      TokenChoice* choice, cudaStream_t stream) {
  if (draw.top_k > 0 && draw.top_k < n) n = draw.top_k;
  const int n_slices = SlicesFor(n);
  // Several slices need their sums first; one is summed by the crossing search itself.
  float* const sums = n_slices > 1 ? w.sums : nullptr;
  Extent extent = {n};
  if (draw.top_p < 1.0f) {
    if (sums != nullptr) {
      SliceSumsKernel<<<n_slices, kSliceThreads, 0, stream>>>(keys, extent, 0.0f, sums);
    }
    CrossingKernel<<<1, kScanThreads, 0, stream>>>(keys, extent, 0.0f, sums, n_slices,
                                                   total_sums, n_total_sums, draw.top_p, true,
                                                   {.prefix_end = w.prefix_end});
    extent.cut = w.prefix_end;
  }
  if (sums != nullptr) {
    SliceSumsKernel<<<n_slices, kSliceThreads, 0, stream>>>(keys, extent, draw.min_p, sums);
  }
  CrossingKernel<<<1, kScanThreads, 0, stream>>>(keys, extent, draw.min_p, sums, n_slices,
                                                 nullptr, 0, draw.u, false,
                                                 {.choice = choice, .logits = logits});
  return cudaGetLastError();
}

}  // namespace

size_t TokenDrawWorkspaceBytes(int64_t vocab) { return DrawWorkspace(nullptr, vocab).total_bytes; }

cudaError_t DrawToken(const float* logits, const float* adjusted, int64_t vocab,
                      const TokenDraw& draw, void* workspace, size_t workspace_bytes,
                      TokenChoice* choice, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(vocab >= 1 && SlicesFor(vocab) <= kMaxSlices && draw.temperature > 0);
  const DrawWorkspace w(workspace, vocab);
  TESSERA_CUDA_CHECK_ARG(workspace_bytes >= w.total_bytes);
  const IdOrderKeys id_order = {adjusted, draw.temperature, choice};
  if (!draw.walks_most_likely_first()) {
    return DrawAlong(id_order, vocab, draw, nullptr, 0, logits, w, choice, stream);
  }
  // Top-p without top-k takes its share of the whole vocabulary's mass.
  const int vocab_slices = SlicesFor(vocab);
  if (draw.top_k == 0) {
    SliceSumsKernel<<<vocab_slices, kSliceThreads, 0, stream>>>(id_order, Extent{vocab}, 0.0f,
                                                                w.total_sums);
  }
  char* const counts_start = reinterpret_cast<char*>(w.histogram);
  const char* const counts_end = reinterpret_cast<char*>(w.n_gathered + 1);
  TESSERA_CUDA_RETURN_IF_ERROR(
      cudaMemsetAsync(counts_start, 0, counts_end - counts_start, stream));
  HistogramKernel<<<vocab_slices, kSliceThreads, 0, stream>>>(id_order, vocab, w.histogram);
  GatherKernel<<<vocab_slices, kSliceThreads, 0, stream>>>(id_order, vocab, draw.top_k, draw.top_p,
                                                           w.histogram, w.gathered, w.n_gathered);
  unsigned n_gathered = 0;
  TESSERA_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(&n_gathered, w.n_gathered, sizeof(n_gathered),
                                               cudaMemcpyDeviceToHost, stream));
  TESSERA_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
  size_t sort_bytes = w.sort_bytes;
  TESSERA_CUDA_RETURN_IF_ERROR(cub::DeviceRadixSort::SortKeysDescending(
      w.sort_storage, sort_bytes, w.gathered, w.sorted, static_cast<int>(n_gathered), 0, 64,
      stream));
  return DrawAlong(SortedKeys{w.sorted}, n_gathered, draw,
                   draw.top_k == 0 ? w.total_sums : nullptr, vocab_slices, logits, w, choice,
                   stream);
}

}  // namespace tessera::cuda
