// Phi-3 and Phi-3.5: one fused q/k/v projection and one fused gate/up projection, split here into
// views of their rows (no copy); half-split rotation. The 128k variants use LongRoPE: short and
// long per-frequency factors, an original context length that picks between them, and an
// attention factor on cos and sin.
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/models/architectures.h"
#include "core/models/transformer_gguf.h"
#include "core/models/transformer_hf.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

absl::StatusOr<RopeConfig> ReadLongRope(GgufWeights& weights, const TransformerHyperparameters& hp) {
  const gguf::GgufFile& file = weights.file();
  RopeConfig rope{.rotary_dim = hp.rotary_dim, .theta = hp.rope_theta,
                  .style = cpu::RopeStyle::kHalves};
  TESSERA_ASSIGN_OR_RETURN(rope.frequency_factors,
                           ReadOptionalFloats(weights, "rope_factors_short.weight", hp.rotary_dim / 2));
  TESSERA_ASSIGN_OR_RETURN(rope.long_frequency_factors,
                           ReadOptionalFloats(weights, "rope_factors_long.weight", hp.rotary_dim / 2));
  if (rope.long_frequency_factors.empty()) return rope;
  TESSERA_ASSIGN_OR_RETURN(rope.original_context,
                           file.GetInt("phi3.rope.scaling.original_context_length"));
  if (file.Find("phi3.rope.scaling.attn_factor")) {
    TESSERA_ASSIGN_OR_RETURN(const double factor, file.GetFloat("phi3.rope.scaling.attn_factor"));
    rope.attention_factor = static_cast<float>(factor);
  }
  if (rope.original_context <= 0) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          file.path(), ": phi3.rope.scaling.original_context_length must be positive")),
                      reason::kInvalidModelFile);
  }
  return rope;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> BuildPhi3(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(const TransformerHyperparameters hp,
                           ReadTransformerHyperparameters(file, "phi3"));
  GgufWeights weights(file);
  TESSERA_ASSIGN_OR_RETURN(const RopeConfig rope, ReadLongRope(weights, hp));
  return BuildTransformer(
      weights, hp, rope, [&hp](GgufWeights& w, int l) -> absl::StatusOr<TransformerLayerWeights> {
        TESSERA_ASSIGN_OR_RETURN(const Tensor qkv,  // [q_dim + 2 * kv_dim, hidden]: q, then k, then v
                                 w.Get(LayerTensor(l, "attn_qkv.weight"), {hp.q_dim() + 2 * hp.kv_dim(), hp.hidden_size}));
        TESSERA_ASSIGN_OR_RETURN(const Tensor gate_up,  // [2 * ffn_dim, hidden]: gate, then up
                                 w.Get(LayerTensor(l, "ffn_up.weight"), {2 * int64_t{hp.ffn_dim}, hp.hidden_size}));
        TransformerLayerWeights layer;
        layer.attention.q = qkv.RowRange(0, hp.q_dim());
        layer.attention.k = qkv.RowRange(hp.q_dim(), hp.kv_dim());
        layer.attention.v = qkv.RowRange(hp.q_dim() + hp.kv_dim(), hp.kv_dim());
        TESSERA_ASSIGN_OR_RETURN(layer.attention.o, w.Get(LayerTensor(l, "attn_output.weight"), {hp.hidden_size, hp.q_dim()}));
        layer.ffn.gate = gate_up.RowRange(0, hp.ffn_dim);
        layer.ffn.up = gate_up.RowRange(hp.ffn_dim, hp.ffn_dim);
        TESSERA_ASSIGN_OR_RETURN(layer.ffn.down, w.Get(LayerTensor(l, "ffn_down.weight"), {hp.hidden_size, hp.ffn_dim}));
        return layer;
      });
}

absl::Status ConvertPhi3Checkpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out) {
  TESSERA_ASSIGN_OR_RETURN(const HfTransformerConfig c, ReadHfTransformerConfig(checkpoint.config));
  TESSERA_RETURN_IF_ERROR(RequireRopeType(checkpoint, c, {"default", "longrope"}));
  WriteTransformerHyperparameters("phi3", c, out.metadata());
  TESSERA_RETURN_IF_ERROR(AddSharedTransformerTensors(checkpoint, c, out));
  TESSERA_RETURN_IF_ERROR(AddRenamedLayerTensors(checkpoint, c.num_layers,
                                                 {{"self_attn.qkv_proj.weight", "attn_qkv.weight"},
                                                  {"mlp.gate_up_proj.weight", "ffn_up.weight"}},
                                                 out));
  if (c.rope.type != "longrope") return absl::OkStatus();
  // The attention factor follows from how far the context was stretched, unless given.
  const double stretch = static_cast<double>(c.context_length) / c.rope.original_context;
  const double attention_factor = c.rope.attention_factor.value_or(
      stretch > 1 ? std::sqrt(1 + std::log(stretch) / std::log(c.rope.original_context)) : 1.0);
  out.metadata().AddUint32("phi3.rope.scaling.original_context_length",
                           static_cast<uint32_t>(c.rope.original_context));
  out.metadata().AddFloat32("phi3.rope.scaling.attn_factor", static_cast<float>(attention_factor));
  TESSERA_RETURN_IF_ERROR(AddFloatTable(
      "rope_factors_short.weight", std::vector<float>(c.rope.short_factor.begin(), c.rope.short_factor.end()), out));
  return AddFloatTable("rope_factors_long.weight",
                       std::vector<float>(c.rope.long_factor.begin(), c.rope.long_factor.end()), out);
}

}  // namespace tessera
