// The token choice on the GPU (kernels/cpu/token_choice.cc's counterpart): the argmax of the
// adjusted logits, the log-normalizer and the largest logits, then a draw when one is asked for,
// so that only a TokenChoice crosses to the host.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/token_choice.h"

namespace tessera::cuda {

// Device memory ChooseToken needs for a vocabulary of `vocab` logits.
size_t TokenChoiceWorkspaceBytes(int64_t vocab);

// *choice = cpu::ChooseToken(logits, vocab, adjustments, n_adjustments, draw, n_top), with sums
// in fp32 in another order: the log-normalizer within 1e-4, and a drawn token the same unless u
// lies within about 1e-6 of a boundary of the cumulative distribution (see DrawToken).
//   logits: [vocab]; adjustments: [n_adjustments], distinct tokens in [0, vocab); choice: one
//   TokenChoice; all device memory. draw: host memory, null for the greedy choice.
// Preconditions: 1 <= vocab <= 2^20; 0 <= n_top <= kMaxChoiceTopLogits; a workspace of
// TokenChoiceWorkspaceBytes(vocab) bytes or more, zero-filled before its first use; each call
// leaves its counters as it found them (zero): a count of finished blocks tells the launch's last
// block to merge. DrawToken, handed the same workspace between calls, does not reach them.
cudaError_t ChooseToken(const float* logits, int64_t vocab, const LogitAdjustment* adjustments,
                        int64_t n_adjustments, const TokenDraw* draw, int n_top, void* workspace,
                        size_t workspace_bytes, TokenChoice* choice, cudaStream_t stream);

// Device memory ChooseGreedyTokens needs for `rows` rows of `vocab` logits.
size_t GreedyTokensWorkspaceBytes(int64_t rows, int64_t vocab);

// choices[r] = ChooseToken(logits + r * vocab, vocab, no adjustments, greedy, n_top) for every
// row r of a batch, in one launch rather than one per row.
//   logits: [rows, vocab]; choices: [rows]; device memory.
// Preconditions: as ChooseToken's, 1 <= rows <= 65535, and a workspace of
// GreedyTokensWorkspaceBytes(rows, vocab) bytes or more, zero-filled before its first use (each
// call leaves its counters at zero again, as ChooseToken's do).
cudaError_t ChooseGreedyTokens(const float* logits, int64_t rows, int64_t vocab, int n_top,
                               void* workspace, size_t workspace_bytes, TokenChoice* choices,
                               cudaStream_t stream);

}  // namespace tessera::cuda
