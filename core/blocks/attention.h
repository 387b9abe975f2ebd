// Grouped-query self-attention with rotary positions and a KV cache: the block every decoder
// family shares. Families differ in the weights they supply (biases, per-head q/k norms) and in
// the config (rope scaling, sliding window).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/blocks/rope.h"
#include "core/engine/kv_cache.h"
#include "kernels/cpu/ops.h"
#include "kernels/tensor.h"

namespace tessera {

struct AttentionConfig {
  int hidden_size = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  RopeConfig rope;
  int64_t sliding_window = 0;  // 0: none; otherwise a token sees this many positions, its own included
  float norm_eps = 1e-6f;      // of the q/k norms, when the weights have them
};

// The attention kernels' view of `config`: head counts, 1/sqrt(head_dim) scale, window.
cpu::AttentionShape KernelShape(const AttentionConfig& config);

struct AttentionWeights {
  Tensor q;  // [num_heads * head_dim, hidden_size]
  Tensor k;  // [num_kv_heads * head_dim, hidden_size]
  Tensor v;  // [num_kv_heads * head_dim, hidden_size]
  Tensor o;  // [hidden_size, num_heads * head_dim]
  std::optional<Tensor> q_bias, k_bias, v_bias;  // [rows of q / k / v]
  // RMSNorm of each query and key head before rotation (Qwen3). [head_dim]
  std::optional<Tensor> q_norm, k_norm;
};

class Attention {
 public:
  Attention(AttentionConfig config, AttentionWeights weights);

  // x: [n_tokens, hidden_size] (normalized input), the tokens of `chunks` one after another,
  // each chunk's at positions [cache->length(), +its size). Writes each chunk's keys and values
  // into layer `layer` of its cache (the caller extends the caches once every layer has run) and
  // the attention output to out: [n_tokens, hidden_size]. The projections run over all the
  // tokens at once; rotation and attention per chunk.
  void Forward(const float* x, std::span<const SequenceChunk> chunks, int layer, float* out) const;

  const AttentionConfig& config() const { return config_; }
  const AttentionWeights& weights() const { return weights_; }
  // The rotation frequencies for a pass over positions [start, start + n_tokens): LongRoPE's
  // long ones once the pass reaches past the original context. [rope.rotary_dim / 2]
  const std::vector<float>& InverseFrequencies(int64_t start, int64_t n_tokens) const;

 private:
  AttentionConfig config_;
  AttentionWeights weights_;
  std::vector<float> inv_freq_;       // [rope.rotary_dim / 2]
  std::vector<float> long_inv_freq_;  // [rope.rotary_dim / 2]; empty without LongRoPE
};

}  // namespace tessera
