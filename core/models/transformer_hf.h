// What the transformer families share when converting a Hugging Face checkpoint (config.json and
// safetensors) into the GGUF vocabulary their builders read: the config fields, the rope
// parameters in both spellings transformers has written, the GGUF hyperparameters, and the
// tensors every family names alike. Each family's converter (in its own file) adds the rest.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/format/gguf_builder.h"
#include "core/format/hf_config.h"
#include "core/format/safetensors_model.h"

namespace tessera {

// A Hugging Face checkpoint directory as a family's converter sees it.
struct HfCheckpoint {
  const HfConfig& config;
  const safetensors::SafetensorsModel& weights;
};

// Rope settings, from "rope_parameters" (transformers 5) or "rope_scaling" with a top-level
// "rope_theta" (transformers 4); "su" is read as "longrope".
struct HfRopeParameters {
  std::string type = "default";  // "default", "llama3", "longrope"
  double theta = 10000;
  double partial_rotary_factor = 1;
  double factor = 1;
  double low_frequency_factor = 1;   // llama3
  double high_frequency_factor = 4;  // llama3
  int64_t original_context = 0;      // llama3, longrope
  std::vector<double> short_factor;  // longrope, [rotary_dim / 2]
  std::vector<double> long_factor;   // longrope, [rotary_dim / 2]
  std::optional<double> attention_factor;  // longrope; derived from the context ratio when absent
};

// config.json fields: hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
// num_key_value_heads?, head_dim?, vocab_size, max_position_embeddings, rms_norm_eps,
// tie_word_embeddings?, sliding_window? (ignored when use_sliding_window is false), the rope
// parameters above, and original_max_position_embeddings? (Phi-3 keeps it at the top level).
struct HfTransformerConfig {
  int64_t hidden_size = 0;
  int64_t ffn_dim = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  double rms_norm_eps = 0;
  bool tied_embeddings = false;
  int64_t sliding_window = 0;  // 0: none
  HfRopeParameters rope;

  int64_t rotary_dim() const;
};

// Errors: INVALID_ARGUMENT (INVALID_MODEL_FILE) naming the field that is missing, mistyped or
// inconsistent (heads that do not divide, an odd rotary size, factor lists of the wrong length).
absl::StatusOr<HfTransformerConfig> ReadHfTransformerConfig(const HfConfig& config);

// UNIMPLEMENTED (UNSUPPORTED_ARCHITECTURE) unless the config's rope type is one of `supported`,
// the types the family's models use.
absl::Status RequireRopeType(const HfCheckpoint& checkpoint, const HfTransformerConfig& config,
                             std::initializer_list<std::string_view> supported);

// general.architecture and <architecture>.{context_length, embedding_length, feed_forward_length,
// block_count, attention.head_count, attention.head_count_kv, attention.key_length,
// attention.value_length, attention.layer_norm_rms_epsilon, rope.dimension_count,
// rope.freq_base, attention.sliding_window (when set)}.
void WriteTransformerHyperparameters(std::string_view architecture,
                                     const HfTransformerConfig& config, gguf::GgufWriter& out);

// Checkpoint tensor `hf_name` as GGUF tensor `gguf_name`, not copied. INVALID_ARGUMENT
// (INVALID_MODEL_FILE) when the checkpoint lacks it or stores it in a type we cannot compute in.
absl::Status AddRenamedTensor(const HfCheckpoint& checkpoint, std::string_view hf_name,
                              std::string_view gguf_name, gguf::GgufBuilder& out);
// As AddRenamedTensor, once for every layer: "model.layers.<l>.<hf_suffix>" becomes
// "blk.<l>.<gguf_suffix>" for each pair.
absl::Status AddRenamedLayerTensors(
    const HfCheckpoint& checkpoint, int64_t num_layers,
    const std::vector<std::pair<std::string_view, std::string_view>>& hf_to_gguf_suffixes,
    gguf::GgufBuilder& out);
// q_proj, k_proj, v_proj, gate_proj and up_proj of every layer, as they are (Qwen's layout).
absl::Status AddSeparateProjectionTensors(const HfCheckpoint& checkpoint, int64_t num_layers,
                                          gguf::GgufBuilder& out);
// The tensors every family names alike: the embedding, the final norm, the LM head unless tied,
// and per layer the two norms, o_proj and down_proj.
absl::Status AddSharedTransformerTensors(const HfCheckpoint& checkpoint,
                                         const HfTransformerConfig& config, gguf::GgufBuilder& out);

// Llama 3's rope frequency scaling of `config` as llama.cpp's rope_freqs.weight divisors; nothing
// for another rope type.
absl::Status AddLlama3RopeFactors(const HfTransformerConfig& config, gguf::GgufBuilder& out);

// A table of floats (rope factors) as an owned F32 tensor.
absl::Status AddFloatTable(std::string_view gguf_name, const std::vector<float>& values,
                           gguf::GgufBuilder& out);

}  // namespace tessera
