// Llama 2 and 3, and Mistral (a Llama with a sliding window, stored as "llama" in GGUF):
// separate q/k/v and gate/up projections. llama.cpp's GGUF "llama" layout has its q/k rows
// permuted for adjacent-pair rotation. Llama 3's rope scaling is the rope_freqs.weight divisors.
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/models/architectures.h"
#include "core/models/transformer_gguf.h"
#include "core/models/transformer_hf.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {

absl::StatusOr<std::unique_ptr<Model>> BuildLlama(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(const TransformerHyperparameters hp,
                           ReadTransformerHyperparameters(file, "llama"));
  GgufWeights weights(file);
  RopeConfig rope{.rotary_dim = hp.rotary_dim, .theta = hp.rope_theta,
                  .style = cpu::RopeStyle::kAdjacentPairs};
  TESSERA_ASSIGN_OR_RETURN(rope.frequency_factors,
                           ReadOptionalFloats(weights, "rope_freqs.weight", hp.rotary_dim / 2));
  return BuildTransformer(weights, hp, rope, [&hp](GgufWeights& w, int l) {
    return ReadSeparateProjections(w, l, hp);
  });
}

namespace {

// llama.cpp's GGUF "llama" layout rotates adjacent pairs, Hugging Face's checkpoints rotate
// halves: within each head, row (half i, pair member t) moves to row (2i + t). `w` is
// [n_heads * head_dim, hidden]; the result holds the permuted rows in w's dtype.
std::string PermuteRowsForAdjacentPairs(const Tensor& w, int64_t n_heads) {
  const int64_t head_dim = w.rows() / n_heads;
  const int64_t half = head_dim / 2;
  const size_t row_bytes = static_cast<size_t>(w.cols()) * DTypeSize(w.dtype);
  const char* src = static_cast<const char*>(w.data);
  std::string permuted(w.bytes(), '\0');
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t t = 0; t < 2; ++t) {
        const int64_t from = h * head_dim + t * half + i;
        const int64_t to = h * head_dim + 2 * i + t;
        std::memcpy(permuted.data() + to * row_bytes, src + from * row_bytes, row_bytes);
      }
    }
  }
  return permuted;
}

absl::Status AddPermutedProjection(const HfCheckpoint& checkpoint, int64_t layer,
                                   std::string_view hf_name, std::string_view gguf_name,
                                   int64_t n_heads, gguf::GgufBuilder& out) {
  const std::string name = absl::StrCat("model.layers.", layer, ".self_attn.", std::string(hf_name));
  TESSERA_ASSIGN_OR_RETURN(const Tensor w, checkpoint.weights.GetTensor(name));
  const int64_t shape[] = {w.shape[0], w.shape[1]};
  if (w.rank != 2 || w.rows() % n_heads != 0 || (w.rows() / n_heads) % 2 != 0) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          checkpoint.weights.dir(), ": tensor '", name, "' does not split into ",
                          n_heads, " heads of an even size")),
                      reason::kInvalidModelFile);
  }
  return out.AddOwnedTensor(LayerTensor(static_cast<int>(layer), gguf_name), w.dtype, shape,
                            PermuteRowsForAdjacentPairs(w, n_heads))
      .status();
}

}  // namespace

absl::Status ConvertLlamaCheckpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out) {
  TESSERA_ASSIGN_OR_RETURN(const HfTransformerConfig c, ReadHfTransformerConfig(checkpoint.config));
  TESSERA_RETURN_IF_ERROR(RequireRopeType(checkpoint, c, {"default", "llama3"}));
  WriteTransformerHyperparameters("llama", c, out.metadata());
  TESSERA_RETURN_IF_ERROR(AddSharedTransformerTensors(checkpoint, c, out));
  TESSERA_RETURN_IF_ERROR(AddRenamedLayerTensors(checkpoint, c.num_layers,
                                                 {{"self_attn.v_proj.weight", "attn_v.weight"},
                                                  {"mlp.gate_proj.weight", "ffn_gate.weight"},
                                                  {"mlp.up_proj.weight", "ffn_up.weight"}},
                                                 out));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    TESSERA_RETURN_IF_ERROR(AddPermutedProjection(checkpoint, l, "q_proj.weight", "attn_q.weight", c.num_heads, out));
    TESSERA_RETURN_IF_ERROR(AddPermutedProjection(checkpoint, l, "k_proj.weight", "attn_k.weight", c.num_kv_heads, out));
  }
  return AddLlama3RopeFactors(c, out);
}

}  // namespace tessera
