// The greedy pass, one kernel, for one row of logits or (ChooseGreedyTokens) several at once:
// a grid row per logits row. The adjusted logits are the logits with a few tokens rewritten:
// the logits themselves when there are no adjustments, else a device-to-device copy plus one
// thread per adjustment. Then one block per 2048 logits finds its slice's maximum and sum of
// exponentials (for the log-normalizer), its best adjusted logit, and its n_top largest logits:
// n_top rounds of a block argmax over what each thread still holds in registers. The last block
// of a row to finish (a count in the workspace tells it) then combines the row's sums, picks the
// best of their best, and runs the same rounds over the heads of their top lists. Merging in the
// same launch saves a decode step a kernel boundary. Order is by value, then by the lower token
// id, as in the CPU reference. A draw then runs on the adjusted logits (token_draw.cu).
#include "kernels/cuda/token_choice.h"

#include <climits>
#include <cmath>

#include <cub/block/block_reduce.cuh>
#include <cuda/functional>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/token_draw.h"

namespace tessera::cuda {
namespace {

constexpr int kBlockThreads = 256;
constexpr int kPerThread = 8;
constexpr int64_t kPerBlock = kBlockThreads * kPerThread;  // logits per block
constexpr int kMaxBlocks = 512;
static_assert(kMaxBlocks % kBlockThreads == 0);

// Eight-byte aligned, so that a merge reads one in one load (LoadScored).
struct alignas(8) Scored {
  float value;
  int32_t token;
};

constexpr Scored kNothing = {-INFINITY, INT_MAX};

__device__ __forceinline__ bool Better(const Scored& a, const Scored& b) {
  return a.value > b.value || (a.value == b.value && a.token < b.token);
}

struct BetterOf {
  __device__ __forceinline__ Scored operator()(const Scored& a, const Scored& b) const {
    return Better(b, a) ? b : a;
  }
};

// A Scored another block wrote in this launch, read from L2: this SM's L1 may hold a stale line.
__device__ __forceinline__ Scored LoadScored(const Scored* p) {
  const int2 v = __ldcg(reinterpret_cast<const int2*>(p));
  return {__int_as_float(v.x), v.y};
}

// The block-wide reductions of a slice and of a merge, over kThreads threads. Each call is
// collective; consecutive calls of one kind need a __syncthreads between them (cub's rule for
// reusing storage).
template <int kThreads>
struct BlockReductions {
  using FloatReduce = cub::BlockReduce<float, kThreads>;
  using ScoredReduce = cub::BlockReduce<Scored, kThreads>;
  typename FloatReduce::TempStorage float_storage;
  typename ScoredReduce::TempStorage scored_storage;

  // Valid in thread 0.
  __device__ float Max(float v) {
    return FloatReduce(float_storage).Reduce(v, ::cuda::maximum<>());
  }
  __device__ float Sum(float v) { return FloatReduce(float_storage).Sum(v); }
  __device__ Scored Best(const Scored& v) {
    return ScoredReduce(scored_storage).Reduce(v, BetterOf());
  }
};

struct BlockPartial {
  float max;  // of the slice's logits
  float sum;  // of exp(logit - max)
  Scored best_adjusted;
  Scored top[kMaxChoiceTopLogits];  // best first
};

// The n best of the candidates the block's threads hold, best first, written to out[0, n) by
// thread 0. Candidates gives a thread's best remaining one (Best) and drops a round's winner
// wherever it is held (Drop).
template <int kThreads, typename Candidates>
__device__ void BlockTopN(Candidates& candidates, int n, Scored* out) {
  using Reduce = cub::BlockReduce<Scored, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  __shared__ Scored winner;
  for (int round = 0; round < n; ++round) {
    const Scored best = Reduce(storage).Reduce(candidates.Best(), BetterOf());
    if (threadIdx.x == 0) {
      winner = best;
      out[round] = best;
    }
    __syncthreads();
    candidates.Drop(winner);
    __syncthreads();  // storage and winner are reused
  }
}

// The best of a thread's candidates.
template <int N>
__device__ __forceinline__ Scored BestOf(const Scored (&candidates)[N]) {
  Scored best = kNothing;
#pragma unroll
  for (int j = 0; j < N; ++j) {
    if (Better(candidates[j], best)) best = candidates[j];
  }
  return best;
}

// A slice's logits, kHeld a thread, in registers.
template <int kHeld>
struct HeldCandidates {
  Scored (&held)[kHeld];

  __device__ __forceinline__ Scored Best() const { return BestOf(held); }
  // Tokens are distinct: only the winner's holder drops it.
  __device__ __forceinline__ void Drop(const Scored& winner) {
#pragma unroll
    for (int j = 0; j < kHeld; ++j) {
      if (held[j].token == winner.token) held[j] = kNothing;
    }
  }
};

// The heads of the top lists of partials b = threadIdx.x + j * kBlockThreads. The lists are
// sorted best first, so the best entry left in any of them is a head: the rounds over the heads
// pick what they would over all the entries, without a thread holding 64 of them. Each head's
// successor is loaded a round ahead, off the rounds' critical path.
struct ListHeads {
  static constexpr int kLists = kMaxBlocks / kBlockThreads;
  const BlockPartial* partials;
  int n_blocks;
  int n_top;
  int taken[kLists];  // entries of the list already taken
  Scored head[kLists];
  Scored next[kLists];

  __device__ __forceinline__ ListHeads(const BlockPartial* partials, int n_blocks, int n_top)
      : partials(partials), n_blocks(n_blocks), n_top(n_top) {
#pragma unroll
    for (int j = 0; j < kLists; ++j) {
      taken[j] = 0;
      head[j] = Entry(j, 0);
      next[j] = Entry(j, 1);
    }
  }
  __device__ __forceinline__ Scored Entry(int j, int index) const {
    const int b = threadIdx.x + j * kBlockThreads;
    return b < n_blocks && index < n_top ? LoadScored(&partials[b].top[index]) : kNothing;
  }
  __device__ __forceinline__ Scored Best() const { return BestOf(head); }
  // Tokens are distinct: only the winner's list moves on.
  __device__ __forceinline__ void Drop(const Scored& winner) {
#pragma unroll
    for (int j = 0; j < kLists; ++j) {
      if (head[j].token == winner.token) {
        head[j] = next[j];
        ++taken[j];
        next[j] = Entry(j, taken[j] + 1);
      }
    }
  }
};

// The row's choice from its n_blocks partials, by the last of its blocks to finish.
__device__ void MergePartials(BlockReductions<kBlockThreads>& reduce, const float* logits,
                              const BlockPartial* partials, int n_blocks, int n_top,
                              TokenChoice* choice) {
  __shared__ float row_max;
  __shared__ Scored top[kMaxChoiceTopLogits];
  float local_max = -INFINITY;
  Scored local_best = kNothing;
  for (int b = threadIdx.x; b < n_blocks; b += kBlockThreads) {
    local_max = fmaxf(local_max, __ldcg(&partials[b].max));
    const Scored best = LoadScored(&partials[b].best_adjusted);
    if (Better(best, local_best)) local_best = best;
  }
  const float block_max = reduce.Max(local_max);
  if (threadIdx.x == 0) row_max = block_max;
  __syncthreads();
  float local_sum = 0.0f;
  for (int b = threadIdx.x; b < n_blocks; b += kBlockThreads) {
    const float max = __ldcg(&partials[b].max);
    if (max > -INFINITY) local_sum += __ldcg(&partials[b].sum) * expf(max - row_max);
  }
  const float sum = reduce.Sum(local_sum);
  const Scored best = reduce.Best(local_best);
  if (n_top > 0) {
    ListHeads heads(partials, n_blocks, n_top);
    BlockTopN<kBlockThreads>(heads, n_top, top);
  }
  if (threadIdx.x == 0) {
    choice->token = best.token;
    choice->token_logit = logits[best.token];
    choice->log_normalizer = row_max + logf(sum);
    choice->n_top = n_top;
    for (int r = 0; r < n_top; ++r) {
      choice->top_tokens[r] = top[r].token;
      choice->top_logits[r] = top[r].value;
    }
  }
}

__global__ void ApplyAdjustmentsKernel(const float* logits, const LogitAdjustment* adjustments,
                                       int64_t n_adjustments, float* adjusted) {
  const int64_t a = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (a >= n_adjustments) return;
  const LogitAdjustment adjustment = adjustments[a];
  adjusted[adjustment.token] = AdjustedLogit(logits[adjustment.token], adjustment);
}

// Grid: [slices, rows]; row r's logits (and adjusted logits) at r * vocab, its partials at
// r * slices, its count of finished blocks at counters_end[-1 - r] (zero between launches), its
// choice at choices[r].
__global__ void __launch_bounds__(kBlockThreads)
    GreedyKernel(const float* logits, const float* adjusted, int64_t vocab, int n_top,
                 BlockPartial* partials, unsigned* counters_end, TokenChoice* choices) {
  __shared__ BlockReductions<kBlockThreads> reduce;
  __shared__ float slice_max;
  __shared__ bool last;
  logits += blockIdx.y * vocab;
  adjusted += blockIdx.y * vocab;
  partials += blockIdx.y * gridDim.x;
  const int64_t base = blockIdx.x * kPerBlock;
  Scored held[kPerThread];
  Scored best_adjusted = kNothing;
  float local_max = -INFINITY;
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) {
    const int64_t i = base + j * kBlockThreads + threadIdx.x;
    held[j] = kNothing;
    if (i < vocab) {
      const int32_t token = static_cast<int32_t>(i);
      held[j] = {logits[i], token};
      local_max = fmaxf(local_max, held[j].value);
      const Scored candidate = {adjusted[i], token};
      if (Better(candidate, best_adjusted)) best_adjusted = candidate;
    }
  }
  const float block_max = reduce.Max(local_max);
  if (threadIdx.x == 0) slice_max = block_max;
  __syncthreads();
  float local_sum = 0.0f;
  if (slice_max > -INFINITY) {
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      if (held[j].token != INT_MAX) local_sum += expf(held[j].value - slice_max);
    }
  }
  const float block_sum = reduce.Sum(local_sum);
  const Scored block_best = reduce.Best(best_adjusted);
  BlockPartial& partial = partials[blockIdx.x];
  if (threadIdx.x == 0) {
    partial.max = slice_max;
    partial.sum = block_sum;
    partial.best_adjusted = block_best;
  }
  HeldCandidates<kPerThread> candidates{held};
  BlockTopN<kBlockThreads>(candidates, n_top, partial.top);

  // The last block of the row to count itself merges (CUDA's threadFenceReduction sample).
  // Thread 0 alone wrote the partial: its fences order that before its count, and the others'
  // partials after it.
  if (threadIdx.x == 0) {
    __threadfence();
    last = atomicAdd(&counters_end[-1 - static_cast<int>(blockIdx.y)], 1u) == gridDim.x - 1;
    __threadfence();
  }
  __syncthreads();
  if (!last) return;
  MergePartials(reduce, logits, partials, static_cast<int>(gridDim.x), n_top, choices + blockIdx.y);
  if (threadIdx.x == 0) counters_end[-1 - static_cast<int>(blockIdx.y)] = 0;  // for the next launch
}

int64_t BlocksForVocab(int64_t vocab) { return (vocab + kPerBlock - 1) / kPerBlock; }

size_t AdjustedBytes(int64_t vocab) { return WorkspaceAligned(vocab * sizeof(float)); }

size_t PartialsBytes(int64_t rows, int64_t vocab) {
  return WorkspaceAligned(rows * BlocksForVocab(vocab) * sizeof(BlockPartial));
}

size_t CountersBytes(int64_t rows) { return WorkspaceAligned(rows * sizeof(unsigned)); }

// One past the rows' counters: the workspace's last words, row r's at [-1 - r], so that calls of
// any number of rows (and the draws, from the workspace's start) on one workspace find each row's
// in the same place, past what they write.
unsigned* CountersEnd(void* workspace, size_t workspace_bytes) {
  return static_cast<unsigned*>(workspace) + workspace_bytes / sizeof(unsigned);
}

// ChooseToken's workspace before the draw's part: the adjusted logits, then the partials.
size_t GreedyBytes(int64_t vocab) { return AdjustedBytes(vocab) + PartialsBytes(1, vocab); }

}  // namespace

size_t TokenChoiceWorkspaceBytes(int64_t vocab) {
  return GreedyBytes(vocab) + TokenDrawWorkspaceBytes(vocab) + CountersBytes(1);
}

cudaError_t ChooseToken(const float* logits, int64_t vocab, const LogitAdjustment* adjustments,
                        int64_t n_adjustments, const TokenDraw* draw, int n_top, void* workspace,
                        size_t workspace_bytes, TokenChoice* choice, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(vocab >= 1 && BlocksForVocab(vocab) <= kMaxBlocks);
  TESSERA_CUDA_CHECK_ARG(n_top >= 0 && n_top <= kMaxChoiceTopLogits && n_adjustments >= 0);
  TESSERA_CUDA_CHECK_ARG(workspace_bytes >= TokenChoiceWorkspaceBytes(vocab));
  const size_t greedy_bytes = GreedyBytes(vocab);
  const size_t draw_bytes = TokenDrawWorkspaceBytes(vocab);
  n_top = static_cast<int>(n_top < vocab ? n_top : vocab);
  char* const base = static_cast<char*>(workspace);
  auto* partials = reinterpret_cast<BlockPartial*>(base + AdjustedBytes(vocab));  // [blocks]
  const int n_blocks = static_cast<int>(BlocksForVocab(vocab));
  // Without adjustments (the usual request) the logits are the adjusted logits.
  const float* adjusted = logits;
  if (n_adjustments > 0) {
    float* rewritten = static_cast<float*>(workspace);  // [vocab]
    TESSERA_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(rewritten, logits, vocab * sizeof(float),
                                                 cudaMemcpyDeviceToDevice, stream));
    ApplyAdjustmentsKernel<<<BlocksFor(n_adjustments, 256), 256, 0, stream>>>(
        logits, adjustments, n_adjustments, rewritten);
    adjusted = rewritten;
  }
  GreedyKernel<<<n_blocks, kBlockThreads, 0, stream>>>(
      logits, adjusted, vocab, n_top, partials, CountersEnd(workspace, workspace_bytes), choice);
  if (draw == nullptr) return cudaGetLastError();
  TESSERA_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return DrawToken(logits, adjusted, vocab, *draw, base + greedy_bytes, draw_bytes, choice, stream);
}

size_t GreedyTokensWorkspaceBytes(int64_t rows, int64_t vocab) {
  return PartialsBytes(rows, vocab) + CountersBytes(rows);
}

cudaError_t ChooseGreedyTokens(const float* logits, int64_t rows, int64_t vocab, int n_top,
                               void* workspace, size_t workspace_bytes, TokenChoice* choices,
                               cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(vocab >= 1 && BlocksForVocab(vocab) <= kMaxBlocks);
  TESSERA_CUDA_CHECK_ARG(rows >= 1 && rows <= 65535);
  TESSERA_CUDA_CHECK_ARG(n_top >= 0 && n_top <= kMaxChoiceTopLogits);
  TESSERA_CUDA_CHECK_ARG(workspace_bytes >= GreedyTokensWorkspaceBytes(rows, vocab));
  n_top = static_cast<int>(n_top < vocab ? n_top : vocab);
  auto* partials = static_cast<BlockPartial*>(workspace);  // [rows, blocks]
  const int n_blocks = static_cast<int>(BlocksForVocab(vocab));
  GreedyKernel<<<dim3(n_blocks, static_cast<unsigned>(rows)), kBlockThreads, 0, stream>>>(
      logits, logits, vocab, n_top, partials, CountersEnd(workspace, workspace_bytes), choices);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
