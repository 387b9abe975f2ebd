// Qwen2 and Qwen2.5: Llama's layout plus biases on the q, k and v projections; rotation pairs
// each dimension with the one half a head away (GGUF keeps Hugging Face's q/k order).
#include "absl/strings/str_cat.h"
#include "core/models/architectures.h"
#include "core/models/transformer_gguf.h"
#include "core/models/transformer_hf.h"
#include "core/util/status_macros.h"

namespace tessera {

absl::StatusOr<std::unique_ptr<Model>> BuildQwen2(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(const TransformerHyperparameters hp,
                           ReadTransformerHyperparameters(file, "qwen2"));
  GgufWeights weights(file);
  const RopeConfig rope{.rotary_dim = hp.rotary_dim, .theta = hp.rope_theta,
                        .style = cpu::RopeStyle::kHalves};
  return BuildTransformer(
      weights, hp, rope, [&hp](GgufWeights& w, int l) -> absl::StatusOr<TransformerLayerWeights> {
        TESSERA_ASSIGN_OR_RETURN(TransformerLayerWeights layer, ReadSeparateProjections(w, l, hp));
        TESSERA_ASSIGN_OR_RETURN(layer.attention.q_bias, w.Get(LayerTensor(l, "attn_q.bias"), {hp.q_dim()}));
        TESSERA_ASSIGN_OR_RETURN(layer.attention.k_bias, w.Get(LayerTensor(l, "attn_k.bias"), {hp.kv_dim()}));
        TESSERA_ASSIGN_OR_RETURN(layer.attention.v_bias, w.Get(LayerTensor(l, "attn_v.bias"), {hp.kv_dim()}));
        return layer;
      });
}

absl::Status ConvertQwen2Checkpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out) {
  TESSERA_ASSIGN_OR_RETURN(const HfTransformerConfig c, ReadHfTransformerConfig(checkpoint.config));
  TESSERA_RETURN_IF_ERROR(RequireRopeType(checkpoint, c, {"default"}));
  WriteTransformerHyperparameters("qwen2", c, out.metadata());
  TESSERA_RETURN_IF_ERROR(AddSharedTransformerTensors(checkpoint, c, out));
  TESSERA_RETURN_IF_ERROR(AddSeparateProjectionTensors(checkpoint, c.num_layers, out));
  return AddRenamedLayerTensors(checkpoint, c.num_layers,
                                {{"self_attn.q_proj.bias", "attn_q.bias"},
                                 {"self_attn.k_proj.bias", "attn_k.bias"},
                                 {"self_attn.v_proj.bias", "attn_v.bias"}},
                                out);
}

}  // namespace tessera
