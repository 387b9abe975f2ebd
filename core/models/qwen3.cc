// Qwen3: Llama's layout with an RMSNorm on each query and key head before rotation, and a head
// size of its own (attention.key_length) rather than hidden / heads. Half-split rotation.
#include "core/models/architectures.h"
#include "core/models/transformer_gguf.h"
#include "core/models/transformer_hf.h"
#include "core/util/status_macros.h"

namespace tessera {

absl::StatusOr<std::unique_ptr<Model>> BuildQwen3(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(const TransformerHyperparameters hp,
                           ReadTransformerHyperparameters(file, "qwen3"));
  GgufWeights weights(file);
  const RopeConfig rope{.rotary_dim = hp.rotary_dim, .theta = hp.rope_theta,
                        .style = cpu::RopeStyle::kHalves};
  return BuildTransformer(
      weights, hp, rope, [&hp](GgufWeights& w, int l) -> absl::StatusOr<TransformerLayerWeights> {
        TESSERA_ASSIGN_OR_RETURN(TransformerLayerWeights layer, ReadSeparateProjections(w, l, hp));
        TESSERA_ASSIGN_OR_RETURN(layer.attention.q_norm, w.Get(LayerTensor(l, "attn_q_norm.weight"), {hp.head_dim}));
        TESSERA_ASSIGN_OR_RETURN(layer.attention.k_norm, w.Get(LayerTensor(l, "attn_k_norm.weight"), {hp.head_dim}));
        return layer;
      });
}

absl::Status ConvertQwen3Checkpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out) {
  TESSERA_ASSIGN_OR_RETURN(const HfTransformerConfig c, ReadHfTransformerConfig(checkpoint.config));
  TESSERA_RETURN_IF_ERROR(RequireRopeType(checkpoint, c, {"default"}));
  WriteTransformerHyperparameters("qwen3", c, out.metadata());
  TESSERA_RETURN_IF_ERROR(AddSharedTransformerTensors(checkpoint, c, out));
  TESSERA_RETURN_IF_ERROR(AddSeparateProjectionTensors(checkpoint, c.num_layers, out));
  return AddRenamedLayerTensors(checkpoint, c.num_layers,
                                {{"self_attn.q_norm.weight", "attn_q_norm.weight"},
                                 {"self_attn.k_norm.weight", "attn_k_norm.weight"}},
                                out);
}

}  // namespace tessera
