// What the transformer families (transformer.h) share in a GGUF file: the hyperparameters under
// "<architecture>.", the tensors every family names alike, and the assembly of the model. A
// family file supplies its architecture name, its rope pairing and scaling, and a function that
// reads the attention and feed-forward weights of one layer its own way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/blocks/attention.h"
#include "core/blocks/feed_forward.h"
#include "core/format/gguf.h"
#include "core/models/gguf_weights.h"
#include "core/models/model.h"

namespace tessera {

struct TransformerHyperparameters {
  std::string architecture;
  int hidden_size = 0;
  int ffn_dim = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int context_length = 0;
  float rms_norm_eps = 0;
  int rotary_dim = 0;
  float rope_theta = 10000.0f;
  int64_t sliding_window = 0;

  int64_t q_dim() const { return int64_t{num_heads} * head_dim; }
  int64_t kv_dim() const { return int64_t{num_kv_heads} * head_dim; }
};

// Reads <architecture>.{embedding_length, feed_forward_length, block_count, context_length,
// attention.head_count, attention.head_count_kv?, attention.key_length? (the head size; default
// embedding_length / head_count), attention.layer_norm_rms_epsilon, rope.dimension_count?,
// rope.freq_base?, attention.sliding_window?}; the vocabulary size is token_embd's row count.
// INVALID_ARGUMENT (INVALID_MODEL_FILE) naming the key for a missing or inconsistent value.
absl::StatusOr<TransformerHyperparameters> ReadTransformerHyperparameters(
    const gguf::GgufFile& file, std::string_view architecture);

// "blk.<layer>.<tensor>", e.g. LayerTensor(3, "attn_q.weight") is "blk.3.attn_q.weight".
std::string LayerTensor(int layer, std::string_view tensor);

// A small F32 table such as rope_freqs.weight as floats, or empty when the file has none.
absl::StatusOr<std::vector<float>> ReadOptionalFloats(GgufWeights& weights, std::string_view name,
                                                      int64_t size);

struct TransformerLayerWeights {
  AttentionWeights attention;
  SwiGluWeights ffn;
};

// attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up and ffn_down of `layer`: the separate
// projections of Llama and Qwen (no biases, no norms).
absl::StatusOr<TransformerLayerWeights> ReadSeparateProjections(
    GgufWeights& weights, int layer, const TransformerHyperparameters& hp);
using LayerWeightsReader =
    std::function<absl::StatusOr<TransformerLayerWeights>(GgufWeights& weights, int layer)>;

// Reads token_embd, output_norm, output (absent: tied to token_embd) and each layer's attn_norm
// and ffn_norm, the rest of each layer through `read_layer`, and builds the Transformer.
absl::StatusOr<std::unique_ptr<Model>> BuildTransformer(GgufWeights& weights,
                                                        const TransformerHyperparameters& hp,
                                                        const RopeConfig& rope,
                                                        const LayerWeightsReader& read_layer);

}  // namespace tessera
