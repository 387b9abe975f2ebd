// The greedy pass, two kernels, for one row of logits or (ChooseGreedyTokens) several at once:
// a grid row per logits row. The adjusted logits are the logits with a few tokens rewritten:
// the logits themselves when there are no adjustments, else a device-to-device copy plus one
// thread per adjustment. Then one block per 2048 logits finds its slice's maximum and sum of
// exponentials (for the log-normalizer), its best adjusted logit, and its n_top largest logits:
// n_top rounds of a block argmax over what each thread still holds in registers. The second
// kernel, one block, combines the blocks' sums, picks the best of their best, and runs the same
// rounds over their top lists. Order is by value, then by the lower token id, as in the CPU
// reference. A draw then runs on the adjusted logits (token_draw.cu).
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
constexpr int64_t kPerBlock = kBlockThreads * kPerThread;  // logits per first-pass block
constexpr int kMergeThreads = 1024;
constexpr int kMaxBlocks = 512;
constexpr int kMergePerThread = kMaxBlocks * kMaxChoiceTopLogits / kMergeThreads;

struct Scored {
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

// The block-wide reductions both kernels make, over kThreads threads. Each call is collective;
// consecutive calls of one kind need a __syncthreads between them (cub's rule for reusing
// storage).
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
  Scored top[kMaxChoiceTopLogits];
};

// The n largest of the candidates the block's threads hold, best first, written to out[0, n) by
// thread 0. Consumes the held candidates.
template <int kThreads, int kHeld>
__device__ void BlockTopN(Scored (&held)[kHeld], int n, Scored* out) {
  using Reduce = cub::BlockReduce<Scored, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  __shared__ Scored winner;
  for (int round = 0; round < n; ++round) {
    Scored mine = kNothing;
#pragma unroll
    for (int j = 0; j < kHeld; ++j) {
      if (Better(held[j], mine)) mine = held[j];
    }
    const Scored best = Reduce(storage).Reduce(mine, BetterOf());
    if (threadIdx.x == 0) {
      winner = best;
      out[round] = best;
    }
    __syncthreads();
    // Tokens are distinct: only the winner's holder drops it.
#pragma unroll
    for (int j = 0; j < kHeld; ++j) {
      if (held[j].token == winner.token) held[j] = kNothing;
    }
    __syncthreads();  // storage and winner are reused
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
// r * slices.
__global__ void __launch_bounds__(kBlockThreads)
    SliceKernel(const float* logits, const float* adjusted, int64_t vocab, int n_top,
                BlockPartial* partials) {
  __shared__ BlockReductions<kBlockThreads> reduce;
  __shared__ float slice_max;
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
  BlockTopN<kBlockThreads>(held, n_top, partial.top);
}

// Grid: one block per row.
__global__ void __launch_bounds__(kMergeThreads)
    MergeKernel(const float* logits, int64_t vocab, const BlockPartial* partials, int n_blocks,
                int n_top, TokenChoice* choices) {
  __shared__ BlockReductions<kMergeThreads> reduce;
  logits += blockIdx.x * vocab;
  partials += blockIdx.x * n_blocks;
  TokenChoice* choice = choices + blockIdx.x;
  __shared__ float global_max;
  __shared__ Scored top[kMaxChoiceTopLogits];
  float local_max = -INFINITY;
  Scored local_best = kNothing;
  for (int b = threadIdx.x; b < n_blocks; b += kMergeThreads) {
    local_max = fmaxf(local_max, partials[b].max);
    if (Better(partials[b].best_adjusted, local_best)) local_best = partials[b].best_adjusted;
  }
  const float block_max = reduce.Max(local_max);
  if (threadIdx.x == 0) global_max = block_max;
  __syncthreads();
  float local_sum = 0.0f;
  for (int b = threadIdx.x; b < n_blocks; b += kMergeThreads) {
    if (partials[b].max > -INFINITY)
      local_sum += partials[b].sum * expf(partials[b].max - global_max);
  }
  const float sum = reduce.Sum(local_sum);
  const Scored best = reduce.Best(local_best);

  Scored held[kMergePerThread];
#pragma unroll
  for (int j = 0; j < kMergePerThread; ++j) {
    const int index = j * kMergeThreads + threadIdx.x;  // over [n_blocks, n_top]
    held[j] = index < n_blocks * n_top ? partials[index / n_top].top[index % n_top] : kNothing;
  }
  BlockTopN<kMergeThreads>(held, n_top, top);
  if (threadIdx.x == 0) {
    choice->token = best.token;
    choice->token_logit = logits[best.token];
    choice->log_normalizer = global_max + logf(sum);
    choice->n_top = n_top;
    for (int r = 0; r < n_top; ++r) {
      choice->top_tokens[r] = top[r].token;
      choice->top_logits[r] = top[r].value;
    }
  }
}

int64_t BlocksForVocab(int64_t vocab) { return (vocab + kPerBlock - 1) / kPerBlock; }

size_t AdjustedBytes(int64_t vocab) { return WorkspaceAligned(vocab * sizeof(float)); }

// The greedy pass's part of the workspace: the adjusted logits, then the blocks' partials.
size_t GreedyBytes(int64_t vocab) {
  return AdjustedBytes(vocab) + WorkspaceAligned(BlocksForVocab(vocab) * sizeof(BlockPartial));
}

}  // namespace

size_t TokenChoiceWorkspaceBytes(int64_t vocab) {
  return GreedyBytes(vocab) + TokenDrawWorkspaceBytes(vocab);
}

cudaError_t ChooseToken(const float* logits, int64_t vocab, const LogitAdjustment* adjustments,
                        int64_t n_adjustments, const TokenDraw* draw, int n_top, void* workspace,
                        size_t workspace_bytes, TokenChoice* choice, cudaStream_t stream) {
  TESSERA_CUDA_CHECK_ARG(vocab >= 1 && BlocksForVocab(vocab) <= kMaxBlocks);
  TESSERA_CUDA_CHECK_ARG(n_top >= 0 && n_top <= kMaxChoiceTopLogits && n_adjustments >= 0);
  TESSERA_CUDA_CHECK_ARG(workspace_bytes >= TokenChoiceWorkspaceBytes(vocab));
  n_top = static_cast<int>(n_top < vocab ? n_top : vocab);
  auto* partials = reinterpret_cast<BlockPartial*>(static_cast<char*>(workspace) +
                                                   AdjustedBytes(vocab));  // [blocks]
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
  SliceKernel<<<n_blocks, kBlockThreads, 0, stream>>>(logits, adjusted, vocab, n_top, partials);
  MergeKernel<<<1, kMergeThreads, 0, stream>>>(logits, vocab, partials, n_blocks, n_top, choice);
  if (draw == nullptr) return cudaGetLastError();
  TESSERA_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  const size_t greedy_bytes = GreedyBytes(vocab);
  return DrawToken(logits, adjusted, vocab, *draw, static_cast<char*>(workspace) + greedy_bytes,
                   workspace_bytes - greedy_bytes, choice, stream);
}

size_t GreedyTokensWorkspaceBytes(int64_t rows, int64_t vocab) {
  return static_cast<size_t>(rows * BlocksForVocab(vocab)) * sizeof(BlockPartial);
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
  SliceKernel<<<dim3(n_blocks, static_cast<unsigned>(rows)), kBlockThreads, 0, stream>>>(
      logits, logits, vocab, n_top, partials);
  MergeKernel<<<static_cast<unsigned>(rows), kMergeThreads, 0, stream>>>(logits, vocab, partials,
                                                                         n_blocks, n_top, choices);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
