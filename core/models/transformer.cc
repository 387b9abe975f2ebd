#include "core/models/transformer.h"

#include <vector>

#include "core/util/status_macros.h"
#include "kernels/cpu/ops.h"

namespace tessera {

absl::Status CheckForwardArguments(const ModelInfo& info, int64_t n_tokens, const KvCache& cache,
                                   size_t logits_size) {
  if (n_tokens == 0 || cache.length() + n_tokens > cache.capacity() ||
      static_cast<int64_t>(logits_size) != info.vocab_size) {
    return absl::InternalError("Forward: no tokens, no room in the cache, or bad logits");
  }
  return absl::OkStatus();
}

std::optional<std::vector<int32_t>> TokensToReencode(int64_t rope_switch_position,
                                                     std::span<const int32_t> tokens,
                                                     KvCache& cache) {
  if (!MustReencode(rope_switch_position, cache.length(), static_cast<int64_t>(tokens.size()))) {
    return std::nullopt;
  }
  std::vector<int32_t> sequence(cache.tokens().begin(), cache.tokens().end());
  sequence.insert(sequence.end(), tokens.begin(), tokens.end());
  cache.Clear();
  return sequence;
}

absl::Status Transformer::Forward(std::span<const int32_t> tokens, KvCache& cache,
                                  std::span<float> logits) const {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t dim = info_.hidden_size;
  TESSERA_RETURN_IF_ERROR(CheckForwardArguments(info_, n, cache, logits.size()));
  if (auto sequence = TokensToReencode(rope_switch_position_, tokens, cache)) {
    return Forward(*sequence, cache, logits);
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
