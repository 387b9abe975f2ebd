#include "core/blocks/attention.h"

#include <cmath>
#include <numeric>

#include "kernels/cpu/ops.h"

namespace tessera {

cpu::AttentionShape KernelShape(const AttentionConfig& config) {
  return {
      .n_heads = config.num_heads,
      .n_kv_heads = config.num_kv_heads,
      .head_dim = config.head_dim,
      .scale = 1.0f / std::sqrt(static_cast<float>(config.head_dim)),
      .sliding_window = config.sliding_window,
  };
}

Attention::Attention(AttentionConfig config, AttentionWeights weights)
    : config_(config),
      weights_(weights),
      inv_freq_(RopeInverseFrequencies(config.rope, config.rope.frequency_factors)) {
  if (!config.rope.long_frequency_factors.empty()) {
    long_inv_freq_ = RopeInverseFrequencies(config.rope, config.rope.long_frequency_factors);
  }
}

const std::vector<float>& Attention::InverseFrequencies(int64_t start, int64_t n_tokens) const {
  return UsesLongFrequencies(config_.rope, start, n_tokens) ? long_inv_freq_ : inv_freq_;
}

void Attention::Forward(const float* x, int64_t n_tokens, KvCache& cache, int layer,
                        float* out) const {
  const int64_t q_dim = int64_t{config_.num_heads} * config_.head_dim;
  const int64_t kv_dim = int64_t{config_.num_kv_heads} * config_.head_dim;
  const int64_t start = cache.length();

  std::vector<int32_t> positions(n_tokens);
  std::iota(positions.begin(), positions.end(), static_cast<int32_t>(start));

  std::vector<float> q(n_tokens * q_dim);  // [n_tokens, num_heads, head_dim]
  // New keys and values go straight into the cache rows for their positions.
  // The CPU's caches are fp32 (KvCacheShape::dtype).
  float* keys = static_cast<float*>(cache.keys(layer));
  float* values = static_cast<float*>(cache.values(layer));
  float* k = keys + start * kv_dim;    // [n_tokens, num_kv_heads, head_dim]
  float* v = values + start * kv_dim;  // [n_tokens, num_kv_heads, head_dim]
  cpu::Matmul(x, weights_.q, n_tokens, q.data());
  cpu::Matmul(x, weights_.k, n_tokens, k);
  cpu::Matmul(x, weights_.v, n_tokens, v);
  if (weights_.q_bias) cpu::AddBias(q.data(), *weights_.q_bias, n_tokens);
  if (weights_.k_bias) cpu::AddBias(k, *weights_.k_bias, n_tokens);
  if (weights_.v_bias) cpu::AddBias(v, *weights_.v_bias, n_tokens);

  if (weights_.q_norm) {
    cpu::RmsNorm(q.data(), *weights_.q_norm, config_.norm_eps, n_tokens * config_.num_heads,
                 config_.head_dim, q.data());
  }
  if (weights_.k_norm) {
    cpu::RmsNorm(k, *weights_.k_norm, config_.norm_eps, n_tokens * config_.num_kv_heads,
                 config_.head_dim, k);
  }

  const RopeConfig& rope = config_.rope;
  const float* inv_freq = InverseFrequencies(start, n_tokens).data();
  cpu::Rope(q.data(), positions.data(), n_tokens, config_.num_heads, config_.head_dim,
            rope.rotary_dim, inv_freq, rope.style, rope.attention_factor);
  cpu::Rope(k, positions.data(), n_tokens, config_.num_kv_heads, config_.head_dim,
            rope.rotary_dim, inv_freq, rope.style, rope.attention_factor);

  const cpu::AttentionShape shape = KernelShape(config_);
  std::vector<float> attended(n_tokens * q_dim);  // [n_tokens, num_heads, head_dim]
  cpu::Attention(q.data(), keys, values, n_tokens, start, shape, attended.data());
  cpu::Matmul(attended.data(), weights_.o, n_tokens, out);
}

}  // namespace tessera
