// Llama: pre-norm decoder layers of grouped-query attention and a SwiGLU feed-forward, RMSNorm
// everywhere, rotary positions. Reads llama.cpp's GGUF "llama" layout, whose q/k weights are
// already permuted for adjacent-pair rotation.
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/blocks/attention.h"
#include "core/blocks/feed_forward.h"
#include "core/models/architectures.h"
#include "core/models/gguf_weights.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"
#include "kernels/cpu/ops.h"

namespace tessera {
namespace {

struct LlamaConfig {
  int hidden_size;
  int ffn_dim;
  int num_layers;
  int num_heads;
  int num_kv_heads;
  int head_dim;
  int vocab_size;
  int context_length;
  float rms_norm_eps;
  RopeConfig rope;
};

absl::Status Malformed(const gguf::GgufFile& file, absl::string_view what) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat(file.path(), ": ", what)),
                    reason::kInvalidModelFile);
}

// Reads llama.{embedding_length, feed_forward_length, block_count, attention.head_count,
// attention.head_count_kv?, attention.layer_norm_rms_epsilon, context_length,
// rope.dimension_count?, rope.freq_base?}; the vocabulary size comes from token_embd.
absl::StatusOr<LlamaConfig> ReadConfig(const gguf::GgufFile& file) {
  auto get_int = [&](std::string_view key) { return file.GetInt(ArchKey("llama", key)); };
  LlamaConfig c;
  TESSERA_ASSIGN_OR_RETURN(int64_t hidden, get_int("embedding_length"));
  TESSERA_ASSIGN_OR_RETURN(int64_t ffn, get_int("feed_forward_length"));
  TESSERA_ASSIGN_OR_RETURN(int64_t layers, get_int("block_count"));
  TESSERA_ASSIGN_OR_RETURN(int64_t heads, get_int("attention.head_count"));
  TESSERA_ASSIGN_OR_RETURN(int64_t context, get_int("context_length"));
  TESSERA_ASSIGN_OR_RETURN(double eps, file.GetFloat(ArchKey("llama", "attention.layer_norm_rms_epsilon")));
  int64_t kv_heads = heads;
  if (file.Find(ArchKey("llama", "attention.head_count_kv"))) {
    TESSERA_ASSIGN_OR_RETURN(kv_heads, get_int("attention.head_count_kv"));
  }
  if (hidden <= 0 || ffn <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || context <= 0) {
    return Malformed(file, "hyperparameters must be positive");
  }
  if (hidden % heads != 0 || heads % kv_heads != 0) {
    return Malformed(file, absl::StrCat("head counts (", heads, " query, ", kv_heads,
                                        " kv) do not divide embedding_length ", hidden));
  }
  c.hidden_size = static_cast<int>(hidden);
  c.ffn_dim = static_cast<int>(ffn);
  c.num_layers = static_cast<int>(layers);
  c.num_heads = static_cast<int>(heads);
  c.num_kv_heads = static_cast<int>(kv_heads);
  c.head_dim = static_cast<int>(hidden / heads);
  c.context_length = static_cast<int>(context);
  c.rms_norm_eps = static_cast<float>(eps);

  c.rope.rotary_dim = c.head_dim;
  if (file.Find(ArchKey("llama", "rope.dimension_count"))) {
    TESSERA_ASSIGN_OR_RETURN(int64_t rotary, get_int("rope.dimension_count"));
    if (rotary <= 0 || rotary > c.head_dim || rotary % 2 != 0) {
      return Malformed(file, absl::StrCat("rope.dimension_count ", rotary,
                                          " must be even and at most the head size ", c.head_dim));
    }
    c.rope.rotary_dim = static_cast<int>(rotary);
  }
  if (file.Find(ArchKey("llama", "rope.freq_base"))) {
    TESSERA_ASSIGN_OR_RETURN(double theta, file.GetFloat(ArchKey("llama", "rope.freq_base")));
    c.rope.theta = static_cast<float>(theta);
  }
  c.rope.style = cpu::RopeStyle::kAdjacentPairs;

  const gguf::TensorInfo* embd = file.FindTensor("token_embd.weight");
  if (embd == nullptr || embd->dims.size() != 2) {
    return Malformed(file, "required 2-d tensor 'token_embd.weight' is missing");
  }
  c.vocab_size = static_cast<int>(embd->dims[1]);
  return c;
}

struct LlamaLayer {
  Tensor attn_norm;  // [hidden]
  Attention attention;
  Tensor ffn_norm;   // [hidden]
  SwiGluWeights ffn;
};

class Llama : public Model {
 public:
  Llama(LlamaConfig config, ModelInfo info, Tensor token_embd, std::vector<LlamaLayer> layers,
        Tensor output_norm, Tensor output)
      : config_(config),
        info_(std::move(info)),
        token_embd_(token_embd),
        layers_(std::move(layers)),
        output_norm_(output_norm),
        output_(output) {}

  const ModelInfo& info() const override { return info_; }

  absl::Status Forward(std::span<const int32_t> tokens, KvCache& cache,
                       std::span<float> logits) const override {
    const int64_t n = static_cast<int64_t>(tokens.size());
    const int64_t dim = config_.hidden_size;
    if (n == 0 || cache.length() + n > cache.capacity() ||
        static_cast<int64_t>(logits.size()) != config_.vocab_size) {
      return absl::InternalError("Llama::Forward: no tokens, no room in the cache, or bad logits");
    }
    std::vector<float> x(n * dim);     // [n, hidden] the residual stream
    std::vector<float> norm(n * dim);  // [n, hidden]
    std::vector<float> block(n * dim); // [n, hidden] a block's output
    cpu::EmbeddingGather(token_embd_, tokens.data(), n, x.data());
    for (int l = 0; l < config_.num_layers; ++l) {
      const LlamaLayer& layer = layers_[l];
      // x = x + attention(rms_norm(x))
      cpu::RmsNorm(x.data(), layer.attn_norm, config_.rms_norm_eps, n, dim, norm.data());
      layer.attention.Forward(norm.data(), n, cache, l, block.data());
      cpu::Add(x.data(), block.data(), n * dim, x.data());
      // x = x + feed_forward(rms_norm(x))
      cpu::RmsNorm(x.data(), layer.ffn_norm, config_.rms_norm_eps, n, dim, norm.data());
      SwiGluFeedForward(layer.ffn, norm.data(), n, block.data());
      cpu::Add(x.data(), block.data(), n * dim, x.data());
    }
    cache.Extend(n);
    // Logits of the last token only: that is all sampling needs.
    const float* last = x.data() + (n - 1) * dim;
    cpu::RmsNorm(last, output_norm_, config_.rms_norm_eps, 1, dim, norm.data());
    cpu::Matmul(norm.data(), output_, 1, logits.data());
    return absl::OkStatus();
  }

 private:
  LlamaConfig config_;
  ModelInfo info_;
  Tensor token_embd_;   // [vocab, hidden]
  std::vector<LlamaLayer> layers_;
  Tensor output_norm_;  // [hidden]
  Tensor output_;       // [vocab, hidden]; token_embd when the embeddings are tied
};

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> BuildLlama(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(LlamaConfig c, ReadConfig(file));
  GgufWeights weights(file);
  const int64_t q_dim = int64_t{c.num_heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.num_kv_heads} * c.head_dim;

  TESSERA_ASSIGN_OR_RETURN(Tensor token_embd, weights.Get("token_embd.weight", {c.vocab_size, c.hidden_size}));
  TESSERA_ASSIGN_OR_RETURN(Tensor output_norm, weights.Get("output_norm.weight", {c.hidden_size}));
  TESSERA_ASSIGN_OR_RETURN(std::optional<Tensor> output,
                           weights.GetOptional("output.weight", {c.vocab_size, c.hidden_size}));

  const AttentionConfig attention_config{
      .hidden_size = c.hidden_size,
      .num_heads = c.num_heads,
      .num_kv_heads = c.num_kv_heads,
      .head_dim = c.head_dim,
      .rope = c.rope,
  };
  std::vector<LlamaLayer> layers;
  layers.reserve(c.num_layers);
  for (int l = 0; l < c.num_layers; ++l) {
    auto name = [l](absl::string_view tensor) { return absl::StrCat("blk.", l, ".", tensor, ".weight"); };
    AttentionWeights attn;
    TESSERA_ASSIGN_OR_RETURN(attn.q, weights.Get(name("attn_q"), {q_dim, c.hidden_size}));
    TESSERA_ASSIGN_OR_RETURN(attn.k, weights.Get(name("attn_k"), {kv_dim, c.hidden_size}));
    TESSERA_ASSIGN_OR_RETURN(attn.v, weights.Get(name("attn_v"), {kv_dim, c.hidden_size}));
    TESSERA_ASSIGN_OR_RETURN(attn.o, weights.Get(name("attn_output"), {c.hidden_size, q_dim}));
    SwiGluWeights ffn;
    TESSERA_ASSIGN_OR_RETURN(ffn.gate, weights.Get(name("ffn_gate"), {c.ffn_dim, c.hidden_size}));
    TESSERA_ASSIGN_OR_RETURN(ffn.up, weights.Get(name("ffn_up"), {c.ffn_dim, c.hidden_size}));
    TESSERA_ASSIGN_OR_RETURN(ffn.down, weights.Get(name("ffn_down"), {c.hidden_size, c.ffn_dim}));
    TESSERA_ASSIGN_OR_RETURN(Tensor attn_norm, weights.Get(name("attn_norm"), {c.hidden_size}));
    TESSERA_ASSIGN_OR_RETURN(Tensor ffn_norm, weights.Get(name("ffn_norm"), {c.hidden_size}));
    layers.push_back(LlamaLayer{attn_norm, Attention(attention_config, attn), ffn_norm, ffn});
  }

  ModelInfo info{
      .architecture = "llama",
      .vocab_size = c.vocab_size,
      .hidden_size = c.hidden_size,
      .num_layers = c.num_layers,
      .num_heads = c.num_heads,
      .num_kv_heads = c.num_kv_heads,
      .head_dim = c.head_dim,
      .context_length = c.context_length,
      .weight_dtype = weights.main_dtype(),
      .weight_bytes = weights.bytes(),
      .kv_shape = {.num_layers = c.num_layers, .num_kv_heads = c.num_kv_heads, .head_dim = c.head_dim},
  };
  return std::make_unique<Llama>(c, std::move(info), token_embd, std::move(layers), output_norm,
                                 output.value_or(token_embd));
}

}  // namespace tessera
