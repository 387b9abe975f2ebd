// The pre-norm decoder-only transformer that Llama, Qwen2, Qwen3, Mistral and Phi-3 all are:
// a token embedding; per layer, x += attention(rms_norm(x)) then x += swiglu(rms_norm(x)); a
// final RMSNorm and the LM head. Each family file builds one from its own weights; a family whose
// layers are shaped otherwise writes its own Model.
#pragma once

#include <span>
#include <vector>

#include "core/blocks/attention.h"
#include "core/blocks/feed_forward.h"
#include "core/models/model.h"

namespace tessera {

struct TransformerLayer {
  Tensor attn_norm;  // [hidden]
  Attention attention;
  Tensor ffn_norm;   // [hidden]
  SwiGluWeights ffn;
};

struct TransformerWeights {
  Tensor token_embd;  // [vocab, hidden]
  std::vector<TransformerLayer> layers;
  Tensor output_norm;  // [hidden]
  Tensor output;       // [vocab, hidden]; token_embd when the embeddings are tied
};

// Whether a pass of `n_tokens` after `cached` ones must re-encode the cached ones first. LongRoPE
// models (rope_switch_position: the original context; 0 for others) do, as transformers does, on
// the pass that first reaches past the original context, so that every key of the sequence is
// rotated with the long factors.
inline bool MustReencode(int64_t rope_switch_position, int64_t cached, int64_t n_tokens) {
  return rope_switch_position > 0 && cached > 0 && cached <= rope_switch_position &&
         cached + n_tokens > rope_switch_position;
}

// The chunks a pass runs, in order. A chunk whose sequence MustReencode has its cache cleared
// and runs the cached tokens, then its own: those tokens are kept in `reencoded` (one entry per
// chunk, resized here), which must outlive the result. Each cache takes the blocks its chunk's
// positions need. INTERNAL unless every chunk has tokens and room for them in its cache: a
// caller's bug, not bad input.
absl::StatusOr<std::vector<SequenceChunk>> ChunksToRun(
    int64_t rope_switch_position, std::span<const SequenceChunk> chunks,
    std::vector<std::vector<int32_t>>& reencoded);

inline ModelInfo WithPrefixDeterminingKv(ModelInfo info, bool prefix_determines_kv) {
  info.prefix_determines_kv = prefix_determines_kv;
  return info;
}

class Transformer : public Model {
 public:
  // `rope_switch_position`: for LongRoPE, the original context (0 otherwise); see MustReencode.
  Transformer(ModelInfo info, float rms_norm_eps, int64_t rope_switch_position,
              TransformerWeights weights)
      : info_(WithPrefixDeterminingKv(std::move(info), rope_switch_position == 0)),
        rms_norm_eps_(rms_norm_eps),
        rope_switch_position_(rope_switch_position),
        weights_(std::move(weights)) {}

  const ModelInfo& info() const override { return info_; }
  absl::Status Forward(std::span<const int32_t> tokens, KvCache& cache,
                       std::span<float> logits) const override;
  absl::StatusOr<std::vector<TokenChoice>> ForwardBatchAndChoose(
      std::span<const SequenceChunk> chunks, std::span<const ChoiceSpec> choices,
      absl::FunctionRef<void()> meanwhile) const override;

  float rms_norm_eps() const { return rms_norm_eps_; }
  int64_t rope_switch_position() const { return rope_switch_position_; }
  const TransformerWeights& weights() const { return weights_; }

 private:
  // The pass itself: every chunk's tokens through each layer together, each chunk's last
  // token's logits to logits: [chunks.size(), vocab_size].
  absl::Status ForwardBatch(std::span<const SequenceChunk> chunks, std::span<float> logits) const;

  ModelInfo info_;
  float rms_norm_eps_;
  int64_t rope_switch_position_;
  TransformerWeights weights_;
};

}  // namespace tessera
