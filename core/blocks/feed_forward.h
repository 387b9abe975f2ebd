// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
#pragma once

#include <cstdint>

#include "kernels/tensor.h"

namespace tessera {

struct SwiGluWeights {
  Tensor gate;  // [ffn_dim, hidden_size]
  Tensor up;    // [ffn_dim, hidden_size]
  Tensor down;  // [hidden_size, ffn_dim]
};

// x, out: [n_tokens, hidden_size]
void SwiGluFeedForward(const SwiGluWeights& weights, const float* x, int64_t n_tokens,
                       float* out);

}  // namespace tessera
