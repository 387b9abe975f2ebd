#include "core/blocks/attention.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/cpu/ops.h"
#include "kernels/kv_blocks.h"

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

void Attention::Forward(const float* x, std::span<const SequenceChunk> chunks, int layer,
                        float* out) const {
  const int64_t q_dim = int64_t{config_.num_heads} * config_.head_dim;
  const int64_t kv_dim = int64_t{config_.num_kv_heads} * config_.head_dim;
  int64_t n_tokens = 0;
  for (const SequenceChunk& chunk : chunks) n_tokens += static_cast<int64_t>(chunk.tokens.size());

  std::vector<float> q(n_tokens * q_dim);   // [n_tokens, num_heads, head_dim]
  std::vector<float> k(n_tokens * kv_dim);  // [n_tokens, num_kv_heads, head_dim]
  std::vector<float> v(n_tokens * kv_dim);  // [n_tokens, num_kv_heads, head_dim]
  cpu::Matmul(x, weights_.q, n_tokens, q.data());
  cpu::Matmul(x, weights_.k, n_tokens, k.data());
  cpu::Matmul(x, weights_.v, n_tokens, v.data());
  if (weights_.q_bias) cpu::AddBias(q.data(), *weights_.q_bias, n_tokens);
  if (weights_.k_bias) cpu::AddBias(k.data(), *weights_.k_bias, n_tokens);
  if (weights_.v_bias) cpu::AddBias(v.data(), *weights_.v_bias, n_tokens);
  if (weights_.q_norm) {
    cpu::RmsNorm(q.data(), *weights_.q_norm, config_.norm_eps, n_tokens * config_.num_heads,
                 config_.head_dim, q.data());
  }
  if (weights_.k_norm) {
    cpu::RmsNorm(k.data(), *weights_.k_norm, config_.norm_eps, n_tokens * config_.num_kv_heads,
                 config_.head_dim, k.data());
  }

  const RopeConfig& rope = config_.rope;
  const cpu::AttentionShape shape = KernelShape(config_);
  std::vector<float> attended(n_tokens * q_dim);  // [n_tokens, num_heads, head_dim]
  int64_t first = 0;                              // the chunk's first row
  for (const SequenceChunk& chunk : chunks) {
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    const int64_t start = chunk.cache->length();
    std::vector<int32_t> positions(n);
    std::iota(positions.begin(), positions.end(), static_cast<int32_t>(start));
    const float* inv_freq = InverseFrequencies(start, n).data();
    float* chunk_q = q.data() + first * q_dim;
    float* chunk_k = k.data() + first * kv_dim;
    cpu::Rope(chunk_q, positions.data(), n, config_.num_heads, config_.head_dim, rope.rotary_dim,
              inv_freq, rope.style, rope.attention_factor);
    cpu::Rope(chunk_k, positions.data(), n, config_.num_kv_heads, config_.head_dim, rope.rotary_dim,
              inv_freq, rope.style, rope.attention_factor);
    // The CPU's caches are fp32 (KvCacheShape::dtype); the new rows go at the chunk's positions,
    // in the rows the sequence's blocks give them.
    float* keys = static_cast<float*>(chunk.cache->pool().keys(layer));
    float* values = static_cast<float*>(chunk.cache->pool().values(layer));
    const int32_t* block_table = chunk.cache->block_table().data();
    for (int64_t t = 0; t < n; ++t) {
      const int64_t row = KvRow(block_table, start + t);
      std::copy_n(chunk_k + t * kv_dim, kv_dim, keys + row * kv_dim);
      std::copy_n(v.data() + (first + t) * kv_dim, kv_dim, values + row * kv_dim);
    }
    cpu::Attention(chunk_q, keys, values, block_table, n, start, shape,
                   attended.data() + first * q_dim);
    first += n;
  }
  cpu::Matmul(attended.data(), weights_.o, n_tokens, out);
}

}  // namespace tessera
