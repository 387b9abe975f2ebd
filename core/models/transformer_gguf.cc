#include "core/models/transformer_gguf.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/models/transformer.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"
#include "kernels/cpu/half.h"

namespace tessera {
namespace {

absl::Status Malformed(const gguf::GgufFile& file, absl::string_view what) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat(file.path(), ": ", what)),
                    reason::kInvalidModelFile);
}

}  // namespace

absl::StatusOr<TransformerHyperparameters> ReadTransformerHyperparameters(
    const gguf::GgufFile& file, std::string_view architecture) {
  auto key = [&](std::string_view name) { return ArchKey(architecture, name); };
  auto get_int = [&](std::string_view name) { return file.GetInt(key(name)); };
  auto get_int_or = [&](std::string_view name, int64_t fallback) -> absl::StatusOr<int64_t> {
    return file.Find(key(name)) ? file.GetInt(key(name)) : fallback;
  };
  TESSERA_ASSIGN_OR_RETURN(const int64_t hidden, get_int("embedding_length"));
  TESSERA_ASSIGN_OR_RETURN(const int64_t ffn, get_int("feed_forward_length"));
  TESSERA_ASSIGN_OR_RETURN(const int64_t layers, get_int("block_count"));
  TESSERA_ASSIGN_OR_RETURN(const int64_t heads, get_int("attention.head_count"));
  TESSERA_ASSIGN_OR_RETURN(const int64_t context, get_int("context_length"));
  TESSERA_ASSIGN_OR_RETURN(const double eps, file.GetFloat(key("attention.layer_norm_rms_epsilon")));
  TESSERA_ASSIGN_OR_RETURN(const int64_t kv_heads, get_int_or("attention.head_count_kv", heads));
  if (hidden <= 0 || ffn <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || context <= 0) {
    return Malformed(file, "hyperparameters must be positive");
  }
  if (heads % kv_heads != 0) {
    return Malformed(file, absl::StrCat("kv head count ", kv_heads,
                                        " does not divide the head count ", heads));
  }
  TESSERA_ASSIGN_OR_RETURN(const int64_t head_dim,
                           get_int_or("attention.key_length", hidden / heads));
  if (head_dim <= 0 || (!file.Find(key("attention.key_length")) && hidden % heads != 0)) {
    return Malformed(file, absl::StrCat("head count ", heads, " does not divide embedding_length ",
                                        hidden, " and no attention.key_length is given"));
  }
  TESSERA_ASSIGN_OR_RETURN(const int64_t rotary_dim, get_int_or("rope.dimension_count", head_dim));
  if (rotary_dim <= 0 || rotary_dim > head_dim || rotary_dim % 2 != 0) {
    return Malformed(file, absl::StrCat("rope.dimension_count ", rotary_dim,
                                        " must be even and at most the head size ", head_dim));
  }
  TESSERA_ASSIGN_OR_RETURN(const int64_t sliding_window, get_int_or("attention.sliding_window", 0));
  if (sliding_window < 0) return Malformed(file, "attention.sliding_window is negative");

  TransformerHyperparameters hp;
  hp.architecture = std::string(architecture);
  hp.hidden_size = static_cast<int>(hidden);
  hp.ffn_dim = static_cast<int>(ffn);
  hp.num_layers = static_cast<int>(layers);
  hp.num_heads = static_cast<int>(heads);
  hp.num_kv_heads = static_cast<int>(kv_heads);
  hp.head_dim = static_cast<int>(head_dim);
  hp.context_length = static_cast<int>(context);
  hp.rms_norm_eps = static_cast<float>(eps);
  hp.rotary_dim = static_cast<int>(rotary_dim);
  hp.sliding_window = sliding_window;
  if (file.Find(key("rope.freq_base"))) {
    TESSERA_ASSIGN_OR_RETURN(const double theta, file.GetFloat(key("rope.freq_base")));
    hp.rope_theta = static_cast<float>(theta);
  }
  const gguf::TensorInfo* embd = file.FindTensor("token_embd.weight");
  if (embd == nullptr || embd->dims.size() != 2) {
    return Malformed(file, "required 2-d tensor 'token_embd.weight' is missing");
  }
  hp.vocab_size = static_cast<int>(embd->dims[1]);
  return hp;
}

std::string LayerTensor(int layer, std::string_view tensor) {
  return absl::StrCat("blk.", layer, ".", absl::string_view(tensor.data(), tensor.size()));
}

absl::StatusOr<TransformerLayerWeights> ReadSeparateProjections(
    GgufWeights& weights, int layer, const TransformerHyperparameters& hp) {
  TransformerLayerWeights w;
  AttentionWeights& attn = w.attention;
  TESSERA_ASSIGN_OR_RETURN(attn.q, weights.Get(LayerTensor(layer, "attn_q.weight"), {hp.q_dim(), hp.hidden_size}));
  TESSERA_ASSIGN_OR_RETURN(attn.k, weights.Get(LayerTensor(layer, "attn_k.weight"), {hp.kv_dim(), hp.hidden_size}));
  TESSERA_ASSIGN_OR_RETURN(attn.v, weights.Get(LayerTensor(layer, "attn_v.weight"), {hp.kv_dim(), hp.hidden_size}));
  TESSERA_ASSIGN_OR_RETURN(attn.o, weights.Get(LayerTensor(layer, "attn_output.weight"), {hp.hidden_size, hp.q_dim()}));
  SwiGluWeights& ffn = w.ffn;
  TESSERA_ASSIGN_OR_RETURN(ffn.gate, weights.Get(LayerTensor(layer, "ffn_gate.weight"), {hp.ffn_dim, hp.hidden_size}));
  TESSERA_ASSIGN_OR_RETURN(ffn.up, weights.Get(LayerTensor(layer, "ffn_up.weight"), {hp.ffn_dim, hp.hidden_size}));
  TESSERA_ASSIGN_OR_RETURN(ffn.down, weights.Get(LayerTensor(layer, "ffn_down.weight"), {hp.hidden_size, hp.ffn_dim}));
  return w;
}

absl::StatusOr<std::vector<float>> ReadOptionalFloats(GgufWeights& weights, std::string_view name,
                                                      int64_t size) {
  TESSERA_ASSIGN_OR_RETURN(const std::optional<Tensor> tensor, weights.GetOptional(name, {size}));
  std::vector<float> values;
  if (tensor) {
    values.resize(size);
    cpu::ToFloat(tensor->data, tensor->dtype, size, values.data());
  }
  return values;
}

absl::StatusOr<std::unique_ptr<Model>> BuildTransformer(GgufWeights& weights,
                                                        const TransformerHyperparameters& hp,
                                                        const RopeConfig& rope,
                                                        const LayerWeightsReader& read_layer) {
  TransformerWeights w;
  TESSERA_ASSIGN_OR_RETURN(w.token_embd, weights.Get("token_embd.weight", {hp.vocab_size, hp.hidden_size}));
  TESSERA_ASSIGN_OR_RETURN(w.output_norm, weights.Get("output_norm.weight", {hp.hidden_size}));
  TESSERA_ASSIGN_OR_RETURN(const std::optional<Tensor> output,
                           weights.GetOptional("output.weight", {hp.vocab_size, hp.hidden_size}));
  w.output = output.value_or(w.token_embd);

  const AttentionConfig attention_config{
      .hidden_size = hp.hidden_size,
      .num_heads = hp.num_heads,
      .num_kv_heads = hp.num_kv_heads,
      .head_dim = hp.head_dim,
      .rope = rope,
      .sliding_window = hp.sliding_window,
      .norm_eps = hp.rms_norm_eps,
  };
  w.layers.reserve(hp.num_layers);
  for (int l = 0; l < hp.num_layers; ++l) {
    TESSERA_ASSIGN_OR_RETURN(Tensor attn_norm, weights.Get(LayerTensor(l, "attn_norm.weight"), {hp.hidden_size}));
    TESSERA_ASSIGN_OR_RETURN(Tensor ffn_norm, weights.Get(LayerTensor(l, "ffn_norm.weight"), {hp.hidden_size}));
    TESSERA_ASSIGN_OR_RETURN(TransformerLayerWeights layer, read_layer(weights, l));
    w.layers.push_back(TransformerLayer{attn_norm, Attention(attention_config, layer.attention),
                                        ffn_norm, layer.ffn});
  }

  ModelInfo info{
      .architecture = hp.architecture,
      .vocab_size = hp.vocab_size,
      .hidden_size = hp.hidden_size,
      .num_layers = hp.num_layers,
      .num_heads = hp.num_heads,
      .num_kv_heads = hp.num_kv_heads,
      .head_dim = hp.head_dim,
      .context_length = hp.context_length,
      .weight_dtype = weights.main_dtype(),
      .weight_bytes = weights.bytes(),
      .kv_shape = {.num_layers = hp.num_layers, .num_kv_heads = hp.num_kv_heads,
                   .head_dim = hp.head_dim},
  };
  const int64_t rope_switch_position =
      rope.long_frequency_factors.empty() ? 0 : rope.original_context;
  return std::make_unique<Transformer>(std::move(info), hp.rms_norm_eps, rope_switch_position,
                                       std::move(w));
}

}  // namespace tessera
