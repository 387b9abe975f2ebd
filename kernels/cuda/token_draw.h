// The random draw of kernels/token_choice.h on the GPU, the part of cuda::ChooseToken that runs
// after the greedy pass when a TokenDraw is given.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/token_choice.h"

namespace tessera::cuda {

// Device memory DrawToken needs for a vocabulary of `vocab` logits.
size_t TokenDrawWorkspaceBytes(int64_t vocab);

// Overwrites choice->token and choice->token_logit with `draw`'s token over `adjusted` (the
// adjusted logits), reading choice->token on entry as the largest adjusted logit's (the greedy
// pass's answer). Probabilities are fp32 (the CPU reference's are double), so a u within about
// 1e-6 of a boundary of the cumulative distribution may fall on the neighbouring token.
//   logits, adjusted: [vocab], device memory; choice: device memory.
// Preconditions: 1 <= vocab < 2^31; a workspace of TokenDrawWorkspaceBytes(vocab) bytes or more.
cudaError_t DrawToken(const float* logits, const float* adjusted, int64_t vocab,
                      const TokenDraw& draw, void* workspace, size_t workspace_bytes,
                      TokenChoice* choice, cudaStream_t stream);

}  // namespace tessera::cuda
