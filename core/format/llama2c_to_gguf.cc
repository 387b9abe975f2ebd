#include "core/format/llama2c_to_gguf.h"

#include <cctype>
#include <filesystem>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera::llama2c {
namespace {

// llama.cpp's GGUF token types.
constexpr int32_t kNormalToken = 1;
constexpr int32_t kUnknownToken = 2;
constexpr int32_t kControlToken = 3;
constexpr int32_t kByteToken = 6;

// The ids llama2.c hard-codes, those of the Llama SentencePiece models.
constexpr uint32_t kUnknownId = 0;
constexpr uint32_t kBosId = 1;
constexpr uint32_t kEosId = 2;

constexpr std::string_view kWordMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's "▁"
constexpr float kRmsNormEpsilon = 1e-5f;                 // llama2.c's RMSNorm epsilon

std::string_view AsBytes(std::span<const float> values) {
  return std::string_view(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

void AddHyperparameters(gguf::GgufWriter& gguf, const Config& c, std::string_view model_name) {
  gguf.AddString("general.architecture", "llama");
  gguf.AddString("general.name", model_name);
  gguf.AddUint32("llama.context_length", c.seq_len);
  gguf.AddUint32("llama.embedding_length", c.dim);
  gguf.AddUint32("llama.feed_forward_length", c.hidden_dim);
  gguf.AddUint32("llama.block_count", c.n_layers);
  gguf.AddUint32("llama.attention.head_count", c.n_heads);
  gguf.AddUint32("llama.attention.head_count_kv", c.n_kv_heads);
  gguf.AddUint32("llama.rope.dimension_count", c.head_size());
  gguf.AddFloat32("llama.attention.layer_norm_rms_epsilon", kRmsNormEpsilon);
}

void AddVocabulary(gguf::GgufWriter& gguf, const Vocabulary& vocab) {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  tokens.reserve(vocab.pieces.size());
  types.reserve(vocab.pieces.size());
  for (const std::string& piece : vocab.pieces) {
    tokens.push_back(GgufTokenText(piece));
    types.push_back(GgufTokenType(static_cast<int32_t>(types.size()), tokens.back()));
  }
  gguf.AddString("tokenizer.ggml.model", "llama");
  gguf.AddArray<std::string>("tokenizer.ggml.tokens", tokens);
  gguf.AddArray<float>("tokenizer.ggml.scores", vocab.scores);
  gguf.AddArray<int32_t>("tokenizer.ggml.token_type", types);
  gguf.AddUint32("tokenizer.ggml.unknown_token_id", kUnknownId);
  gguf.AddUint32("tokenizer.ggml.bos_token_id", kBosId);
  gguf.AddUint32("tokenizer.ggml.eos_token_id", kEosId);
}

// Tensors in the order llama.cpp's converter writes them; shapes are row-major.
absl::Status AddWeights(gguf::GgufWriter& gguf, const Config& c, const Weights& w) {
  const auto add = [&](const std::string& name, std::span<const float> data,
                       std::vector<int64_t> shape) {
    return gguf.AddTensor(name, DType::kF32, shape, AsBytes(data));
  };
  const int64_t dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), vocab = c.vocab_size;
  TESSERA_RETURN_IF_ERROR(add("token_embd.weight", w.token_embedding, {vocab, dim}));
  TESSERA_RETURN_IF_ERROR(add("output_norm.weight", w.rms_final, {dim}));
  TESSERA_RETURN_IF_ERROR(add("output.weight", w.wcls, {vocab, dim}));
  for (int layer = 0; layer < c.n_layers; ++layer) {
    const auto slice = [&](std::span<const float> stacked) {
      return LayerSlice(stacked, layer, c.n_layers);
    };
    const std::string blk = absl::StrFormat("blk.%d.", layer);
    TESSERA_RETURN_IF_ERROR(add(blk + "attn_q.weight", slice(w.wq), {dim, dim}));
    TESSERA_RETURN_IF_ERROR(add(blk + "attn_k.weight", slice(w.wk), {kv_dim, dim}));
    TESSERA_RETURN_IF_ERROR(add(blk + "attn_v.weight", slice(w.wv), {kv_dim, dim}));
    TESSERA_RETURN_IF_ERROR(add(blk + "attn_output.weight", slice(w.wo), {dim, dim}));
    TESSERA_RETURN_IF_ERROR(add(blk + "attn_norm.weight", slice(w.rms_att), {dim}));
    TESSERA_RETURN_IF_ERROR(add(blk + "ffn_gate.weight", slice(w.w1), {hidden, dim}));
    TESSERA_RETURN_IF_ERROR(add(blk + "ffn_down.weight", slice(w.w2), {dim, hidden}));
    TESSERA_RETURN_IF_ERROR(add(blk + "ffn_up.weight", slice(w.w3), {hidden, dim}));
    TESSERA_RETURN_IF_ERROR(add(blk + "ffn_norm.weight", slice(w.rms_ffn), {dim}));
  }
  return absl::OkStatus();
}

bool IsByteToken(std::string_view text) {
  return text.size() == 6 && text.substr(0, 3) == "<0x" && text[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(text[3])) &&
         std::isxdigit(static_cast<unsigned char>(text[4]));
}

}  // namespace

std::string GgufTokenText(std::string_view piece) {
  if (piece == "\n<s>\n") return "<s>";
  if (piece == "\n</s>\n") return "</s>";
  std::string text;
  text.reserve(piece.size());
  for (const char c : piece) {
    if (c == ' ') {
      text += kWordMarker;
    } else {
      text += c;
    }
  }
  return text;
}

int32_t GgufTokenType(int32_t id, std::string_view gguf_text) {
  if (id == static_cast<int32_t>(kUnknownId)) return kUnknownToken;
  if (id == static_cast<int32_t>(kBosId) || id == static_cast<int32_t>(kEosId)) {
    return kControlToken;
  }
  return IsByteToken(gguf_text) ? kByteToken : kNormalToken;
}

absl::StatusOr<gguf::GgufWriter> BuildGguf(const Checkpoint& checkpoint, const Vocabulary& vocab,
                                           std::string_view model_name) {
  const Config& config = checkpoint.config();
  if (vocab.pieces.size() != static_cast<size_t>(config.vocab_size) ||
      vocab.scores.size() != vocab.pieces.size()) {
    return WithReason(absl::InvalidArgumentError(absl::StrFormat(
                          "the tokenizer has %d tokens, the checkpoint's vocab_size is %d",
                          vocab.pieces.size(), config.vocab_size)),
                      reason::kInvalidModelFile);
  }
  gguf::GgufWriter gguf;
  AddHyperparameters(gguf, config, model_name);
  AddVocabulary(gguf, vocab);
  TESSERA_RETURN_IF_ERROR(AddWeights(gguf, config, checkpoint.weights()));
  return gguf;
}

absl::Status ConvertToGguf(const std::string& checkpoint_path, const std::string& tokenizer_path,
                           const std::string& gguf_path) {
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<Checkpoint> checkpoint,
                           Checkpoint::Read(checkpoint_path));
  TESSERA_ASSIGN_OR_RETURN(const Vocabulary vocab,
                           ReadVocabulary(tokenizer_path, checkpoint->config().vocab_size));
  const std::string model_name = std::filesystem::path(checkpoint_path).stem().string();
  TESSERA_ASSIGN_OR_RETURN(const gguf::GgufWriter gguf,
                           BuildGguf(*checkpoint, vocab, model_name));
  return gguf.WriteFile(gguf_path);
}

}  // namespace tessera::llama2c
