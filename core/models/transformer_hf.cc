#include "core/models/transformer_hf.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/blocks/rope.h"
#include "core/models/gguf_weights.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

absl::Status Inconsistent(const HfConfig& config, absl::string_view what) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat(config.path(), ": ", what)),
                    reason::kInvalidModelFile);
}

absl::StatusOr<std::vector<double>> FactorList(const HfConfig& rope, std::string_view key,
                                               int64_t expected_size) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<double> factors, rope.GetFloatList(key));
  if (static_cast<int64_t>(factors.size()) != expected_size) {
    return Inconsistent(rope, absl::StrCat(std::string(key), " has ", factors.size(),
                                           " factors, expected rotary size / 2 = ", expected_size));
  }
  return factors;
}

// `rope` is the rope_parameters or rope_scaling object, or `config` itself when the file has
// neither (then only top-level keys are found).
absl::StatusOr<HfRopeParameters> ReadRope(const HfConfig& config, const HfConfig& rope) {
  HfRopeParameters p;
  TESSERA_ASSIGN_OR_RETURN(const double top_theta, config.GetFloatOr("rope_theta", 10000));
  TESSERA_ASSIGN_OR_RETURN(p.theta, rope.GetFloatOr("rope_theta", top_theta));
  TESSERA_ASSIGN_OR_RETURN(const std::string type, rope.GetStringOr("type", "default"));
  TESSERA_ASSIGN_OR_RETURN(p.type, rope.GetStringOr("rope_type", type));
  if (p.type == "su") p.type = "longrope";
  TESSERA_ASSIGN_OR_RETURN(const double top_partial, config.GetFloatOr("partial_rotary_factor", 1));
  TESSERA_ASSIGN_OR_RETURN(p.partial_rotary_factor, rope.GetFloatOr("partial_rotary_factor", top_partial));
  TESSERA_ASSIGN_OR_RETURN(const int64_t top_original,
                           config.GetIntOr("original_max_position_embeddings", 0));
  TESSERA_ASSIGN_OR_RETURN(p.original_context,
                           rope.GetIntOr("original_max_position_embeddings", top_original));
  if (p.type == "llama3") {
    TESSERA_ASSIGN_OR_RETURN(p.factor, rope.GetFloat("factor"));
    TESSERA_ASSIGN_OR_RETURN(p.low_frequency_factor, rope.GetFloat("low_freq_factor"));
    TESSERA_ASSIGN_OR_RETURN(p.high_frequency_factor, rope.GetFloat("high_freq_factor"));
    if (p.original_context <= 0 || p.high_frequency_factor <= p.low_frequency_factor) {
      return Inconsistent(rope, "llama3 rope scaling needs original_max_position_embeddings > 0 "
                                "and high_freq_factor > low_freq_factor");
    }
  } else if (p.type == "longrope") {
    if (p.original_context <= 0) {
      return Inconsistent(rope, "longrope needs original_max_position_embeddings > 0");
    }
    if (rope.Has("attention_factor")) {
      TESSERA_ASSIGN_OR_RETURN(p.attention_factor, rope.GetFloat("attention_factor"));
    }
  } else if (p.type != "default") {
    return WithReason(absl::UnimplementedError(absl::StrCat(
                          config.path(), ": rope type '", p.type,
                          "' is not supported (supported: default, llama3, longrope)")),
                      reason::kUnsupportedArchitecture);
  }
  return p;
}

}  // namespace

int64_t HfTransformerConfig::rotary_dim() const {
  return static_cast<int64_t>(std::lround(head_dim * rope.partial_rotary_factor));
}

absl::StatusOr<HfTransformerConfig> ReadHfTransformerConfig(const HfConfig& config) {
  HfTransformerConfig c;
  TESSERA_ASSIGN_OR_RETURN(c.hidden_size, config.GetInt("hidden_size"));
  TESSERA_ASSIGN_OR_RETURN(c.ffn_dim, config.GetInt("intermediate_size"));
  TESSERA_ASSIGN_OR_RETURN(c.num_layers, config.GetInt("num_hidden_layers"));
  TESSERA_ASSIGN_OR_RETURN(c.num_heads, config.GetInt("num_attention_heads"));
  TESSERA_ASSIGN_OR_RETURN(c.num_kv_heads, config.GetIntOr("num_key_value_heads", c.num_heads));
  TESSERA_ASSIGN_OR_RETURN(c.vocab_size, config.GetInt("vocab_size"));
  TESSERA_ASSIGN_OR_RETURN(c.context_length, config.GetInt("max_position_embeddings"));
  TESSERA_ASSIGN_OR_RETURN(c.rms_norm_eps, config.GetFloat("rms_norm_eps"));
  TESSERA_ASSIGN_OR_RETURN(c.tied_embeddings, config.GetBoolOr("tie_word_embeddings", false));
  if (c.hidden_size <= 0 || c.ffn_dim <= 0 || c.num_layers <= 0 || c.num_heads <= 0 ||
      c.num_kv_heads <= 0 || c.vocab_size <= 0 || c.context_length <= 0) {
    return Inconsistent(config, "sizes and counts must be positive");
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    return Inconsistent(config, absl::StrCat("num_key_value_heads ", c.num_kv_heads,
                                             " does not divide num_attention_heads ", c.num_heads));
  }
  if (!config.Has("head_dim") && c.hidden_size % c.num_heads != 0) {
    return Inconsistent(config, absl::StrCat("num_attention_heads ", c.num_heads,
                                             " does not divide hidden_size ", c.hidden_size,
                                             " and no head_dim is given"));
  }
  TESSERA_ASSIGN_OR_RETURN(c.head_dim, config.GetIntOr("head_dim", c.hidden_size / c.num_heads));

  TESSERA_ASSIGN_OR_RETURN(const bool use_sliding_window, config.GetBoolOr("use_sliding_window", true));
  if (use_sliding_window) {
    TESSERA_ASSIGN_OR_RETURN(c.sliding_window, config.GetIntOr("sliding_window", 0));
  }
  if (c.sliding_window < 0) return Inconsistent(config, "sliding_window is negative");

  std::optional<HfConfig> rope_object;
  for (const std::string_view key : {"rope_parameters", "rope_scaling"}) {
    if (!rope_object && config.Has(key)) {
      TESSERA_ASSIGN_OR_RETURN(rope_object, config.GetObject(key));
    }
  }
  const HfConfig& rope = rope_object ? *rope_object : config;
  TESSERA_ASSIGN_OR_RETURN(c.rope, ReadRope(config, rope));
  const int64_t rotary = c.rotary_dim();
  if (c.head_dim <= 0 || rotary <= 0 || rotary > c.head_dim || rotary % 2 != 0) {
    return Inconsistent(config, absl::StrCat("rotary size ", rotary,
                                             " must be even and at most head_dim ", c.head_dim));
  }
  if (c.rope.type == "longrope") {
    TESSERA_ASSIGN_OR_RETURN(c.rope.short_factor, FactorList(rope, "short_factor", rotary / 2));
    TESSERA_ASSIGN_OR_RETURN(c.rope.long_factor, FactorList(rope, "long_factor", rotary / 2));
  }
  return c;
}

absl::Status RequireRopeType(const HfCheckpoint& checkpoint, const HfTransformerConfig& config,
                             std::initializer_list<std::string_view> supported) {
  for (const std::string_view type : supported) {
    if (config.rope.type == type) return absl::OkStatus();
  }
  std::string names;
  for (const std::string_view type : supported) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", std::string(type));
  }
  return WithReason(absl::UnimplementedError(absl::StrCat(
                        checkpoint.config.path(), ": rope type '", config.rope.type,
                        "' is not supported for this architecture (supported: ", names, ")")),
                    reason::kUnsupportedArchitecture);
}

void WriteTransformerHyperparameters(std::string_view architecture,
                                     const HfTransformerConfig& config, gguf::GgufWriter& out) {
  auto key = [&](std::string_view name) { return ArchKey(architecture, name); };
  out.AddString("general.architecture", architecture);
  out.AddUint32(key("context_length"), static_cast<uint32_t>(config.context_length));
  out.AddUint32(key("embedding_length"), static_cast<uint32_t>(config.hidden_size));
  out.AddUint32(key("feed_forward_length"), static_cast<uint32_t>(config.ffn_dim));
  out.AddUint32(key("block_count"), static_cast<uint32_t>(config.num_layers));
  out.AddUint32(key("attention.head_count"), static_cast<uint32_t>(config.num_heads));
  out.AddUint32(key("attention.head_count_kv"), static_cast<uint32_t>(config.num_kv_heads));
  out.AddUint32(key("attention.key_length"), static_cast<uint32_t>(config.head_dim));
  out.AddUint32(key("attention.value_length"), static_cast<uint32_t>(config.head_dim));
  out.AddFloat32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(config.rms_norm_eps));
  out.AddUint32(key("rope.dimension_count"), static_cast<uint32_t>(config.rotary_dim()));
  out.AddFloat32(key("rope.freq_base"), static_cast<float>(config.rope.theta));
  if (config.sliding_window > 0) {
    out.AddUint32(key("attention.sliding_window"), static_cast<uint32_t>(config.sliding_window));
  }
}

absl::Status AddRenamedTensor(const HfCheckpoint& checkpoint, std::string_view hf_name,
                              std::string_view gguf_name, gguf::GgufBuilder& out) {
  if (checkpoint.weights.FindTensor(hf_name) == nullptr) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          checkpoint.weights.dir(), ": required tensor '", std::string(hf_name),
                          "' is missing")),
                      reason::kInvalidModelFile);
  }
  TESSERA_ASSIGN_OR_RETURN(const Tensor tensor, checkpoint.weights.GetTensor(hf_name));
  return out.AddTensor(gguf_name, tensor);
}

absl::Status AddRenamedLayerTensors(
    const HfCheckpoint& checkpoint, int64_t num_layers,
    const std::vector<std::pair<std::string_view, std::string_view>>& hf_to_gguf_suffixes,
    gguf::GgufBuilder& out) {
  for (int64_t l = 0; l < num_layers; ++l) {
    for (const auto& [hf_suffix, gguf_suffix] : hf_to_gguf_suffixes) {
      TESSERA_RETURN_IF_ERROR(AddRenamedTensor(
          checkpoint, absl::StrCat("model.layers.", l, ".", std::string(hf_suffix)),
          absl::StrCat("blk.", l, ".", std::string(gguf_suffix)), out));
    }
  }
  return absl::OkStatus();
}

absl::Status AddSeparateProjectionTensors(const HfCheckpoint& checkpoint, int64_t num_layers,
                                          gguf::GgufBuilder& out) {
  return AddRenamedLayerTensors(checkpoint, num_layers,
                                {{"self_attn.q_proj.weight", "attn_q.weight"},
                                 {"self_attn.k_proj.weight", "attn_k.weight"},
                                 {"self_attn.v_proj.weight", "attn_v.weight"},
                                 {"mlp.gate_proj.weight", "ffn_gate.weight"},
                                 {"mlp.up_proj.weight", "ffn_up.weight"}},
                                out);
}

absl::Status AddSharedTransformerTensors(const HfCheckpoint& checkpoint,
                                         const HfTransformerConfig& config,
                                         gguf::GgufBuilder& out) {
  TESSERA_RETURN_IF_ERROR(AddRenamedTensor(checkpoint, "model.embed_tokens.weight", "token_embd.weight", out));
  TESSERA_RETURN_IF_ERROR(AddRenamedTensor(checkpoint, "model.norm.weight", "output_norm.weight", out));
  // Tied checkpoints may still carry a copy of the embedding as lm_head; the embedding serves.
  if (!config.tied_embeddings) {
    TESSERA_RETURN_IF_ERROR(AddRenamedTensor(checkpoint, "lm_head.weight", "output.weight", out));
  }
  return AddRenamedLayerTensors(checkpoint, config.num_layers,
                                {{"input_layernorm.weight", "attn_norm.weight"},
                                 {"post_attention_layernorm.weight", "ffn_norm.weight"},
                                 {"self_attn.o_proj.weight", "attn_output.weight"},
                                 {"mlp.down_proj.weight", "ffn_down.weight"}},
                                out);
}

absl::Status AddLlama3RopeFactors(const HfTransformerConfig& config, gguf::GgufBuilder& out) {
  if (config.rope.type != "llama3") return absl::OkStatus();
  const Llama3RopeScaling scaling{
      .factor = config.rope.factor,
      .low_frequency_factor = config.rope.low_frequency_factor,
      .high_frequency_factor = config.rope.high_frequency_factor,
      .original_context = static_cast<double>(config.rope.original_context),
  };
  return AddFloatTable("rope_freqs.weight",
                       Llama3FrequencyFactors(scaling, static_cast<float>(config.rope.theta),
                                              static_cast<int>(config.rotary_dim())),
                       out);
}

absl::Status AddFloatTable(std::string_view gguf_name, const std::vector<float>& values,
                           gguf::GgufBuilder& out) {
  std::string bytes(values.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  const int64_t shape[] = {static_cast<int64_t>(values.size())};
  return out.AddOwnedTensor(gguf_name, DType::kF32, shape, std::move(bytes)).status();
}

}  // namespace tessera
