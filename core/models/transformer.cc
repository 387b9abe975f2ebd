#include "core/models/transformer.h"

#include <vector>

#include "kernels/cpu/ops.h"

namespace tessera {

absl::Status Transformer::Forward(std::span<const int32_t> tokens, KvCache& cache,
                                  std::span<float> logits) const {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t dim = info_.hidden_size;
  if (n == 0 || cache.length() + n > cache.capacity() ||
      static_cast<int64_t>(logits.size()) != info_.vocab_size) {
    return absl::InternalError("Transformer::Forward: no tokens, no room in the cache, or bad logits");
  }
  if (MustReencode(rope_switch_position_, cache.length(), n)) {
    std::vector<int32_t> sequence(cache.tokens().begin(), cache.tokens().end());
    sequence.insert(sequence.end(), tokens.begin(), tokens.end());
    cache.Clear();
    return Forward(sequence, cache, logits);
  }
  std::vector<float> x(n * dim);      // [n, hidden] the residual stream
  std::vector<float> norm(n * dim);   // [n, hidden]
  std::vector<float> block(n * dim);  // [n, hidden] a block's output
  cpu::EmbeddingGather(weights_.token_embd, tokens.data(), n, x.data());
  for (size_t l = 0; l < weights_.layers.size(); ++l) {
    const TransformerLayer& layer = weights_.layers[l];
    // x = x + attention(rms_norm(x))
    cpu::RmsNorm(x.data(), layer.attn_norm, rms_norm_eps_, n, dim, norm.data());
    layer.attention.Forward(norm.data(), n, cache, static_cast<int>(l), block.data());
    cpu::Add(x.data(), block.data(), n * dim, x.data());
    // x = x + feed_forward(rms_norm(x))
    cpu::RmsNorm(x.data(), layer.ffn_norm, rms_norm_eps_, n, dim, norm.data());
    SwiGluFeedForward(layer.ffn, norm.data(), n, block.data());
    cpu::Add(x.data(), block.data(), n * dim, x.data());
  }
  cache.Extend(tokens);
  // Logits of the last token only: that is all sampling needs.
  const float* last = x.data() + (n - 1) * dim;
  cpu::RmsNorm(last, weights_.output_norm, rms_norm_eps_, 1, dim, norm.data());
  cpu::Matmul(norm.data(), weights_.output, 1, logits.data());
  return absl::OkStatus();
}

}  // namespace tessera
