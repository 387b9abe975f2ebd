#include "core/blocks/feed_forward.h"

#include <vector>

#include "kernels/cpu/ops.h"

namespace tessera {

void SwiGluFeedForward(const SwiGluWeights& weights, const float* x, int64_t n_tokens,
                       float* out) {
  const int64_t ffn_dim = weights.gate.rows();
  std::vector<float> gate(n_tokens * ffn_dim);  // [n_tokens, ffn_dim]
  std::vector<float> up(n_tokens * ffn_dim);    // [n_tokens, ffn_dim]
  cpu::Matmul(x, weights.gate, n_tokens, gate.data());
  cpu::Matmul(x, weights.up, n_tokens, up.data());
  cpu::SwiGlu(gate.data(), up.data(), n_tokens * ffn_dim, gate.data());
  cpu::Matmul(gate.data(), weights.down, n_tokens, out);
}

}  // namespace tessera
