// Greedy choice on the GPU (kernels/cpu/greedy_choice.cc's counterpart): the argmax of the
// adjusted logits, the log-normalizer and the largest logits, in two kernels, so that only a
// GreedyChoice crosses to the host.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/greedy_choice.h"

namespace tessera::cuda {

// Device memory ChooseGreedy needs for a vocabulary of `vocab` logits.
size_t GreedyChoiceWorkspaceBytes(int64_t vocab);

// *choice = cpu::ChooseGreedy(logits, vocab, adjustments, n_adjustments, n_top), with the
// log-normalizer summed in another order (fp32).
//   logits: [vocab]; adjustments: [n_adjustments], distinct tokens in [0, vocab); choice: one
//   GreedyChoice; all device memory.
// Preconditions: 1 <= vocab <= 2^20; 0 <= n_top <= kMaxGreedyTopLogits; a workspace of
// GreedyChoiceWorkspaceBytes(vocab) bytes or more.
cudaError_t ChooseGreedy(const float* logits, int64_t vocab, const LogitAdjustment* adjustments,
                         int64_t n_adjustments, int n_top, void* workspace,
                         size_t workspace_bytes, GreedyChoice* choice, cudaStream_t stream);

}  // namespace tessera::cuda
