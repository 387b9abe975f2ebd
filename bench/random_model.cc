#include "bench/random_model.h"

#include <bit>
#include <cmath>
#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/format/gguf_builder.h"
#include "core/models/transformer_gguf.h"
#include "core/tokenizer/hf_tokenizer_to_gguf.h"
#include "core/tokenizer/spm.h"
#include "core/util/status_macros.h"
#include "kernels/cpu/half.h"

namespace tessera::bench {

const std::vector<ModelShape>& ModelShapes() {
  // The fields of each model's public config.json (huggingface.co/<repo>/blob/main/config.json)
  // that size the computation; bench/compare_with_transformers.py writes the same ones out.
  static const std::vector<ModelShape> shapes = {
      {.name = "llama-3-8b",
       .source = "meta-llama/Llama-3.1-8B",
       .architecture = "llama",
       .config = {.hidden_size = 4096, .ffn_dim = 14336, .num_layers = 32, .num_heads = 32,
                  .num_kv_heads = 8, .head_dim = 128, .vocab_size = 128256,
                  .context_length = 131072, .rms_norm_eps = 1e-5, .tied_embeddings = false,
                  .rope = {.type = "llama3", .theta = 500000, .factor = 8,
                           .low_frequency_factor = 1, .high_frequency_factor = 4,
                           .original_context = 8192}}},
      {.name = "qwen2.5-0.5b",
       .source = "Qwen/Qwen2.5-0.5B",
       .architecture = "qwen2",
       .config = {.hidden_size = 896, .ffn_dim = 4864, .num_layers = 24, .num_heads = 14,
                  .num_kv_heads = 2, .head_dim = 64, .vocab_size = 151936,
                  .context_length = 32768, .rms_norm_eps = 1e-6, .tied_embeddings = true,
                  .rope = {.theta = 1000000}}},
      {.name = "phi-3-mini-4k",
       .source = "microsoft/Phi-3-mini-4k-instruct",
       .architecture = "phi3",
       .config = {.hidden_size = 3072, .ffn_dim = 8192, .num_layers = 32, .num_heads = 32,
                  .num_kv_heads = 32, .head_dim = 96, .vocab_size = 32064,
                  .context_length = 4096, .rms_norm_eps = 1e-5, .tied_embeddings = false,
                  .sliding_window = 2047, .rope = {.theta = 10000}}},
      {.name = "qwen3-0.6b",
       .source = "Qwen/Qwen3-0.6B",
       .architecture = "qwen3",
       .config = {.hidden_size = 1024, .ffn_dim = 3072, .num_layers = 28, .num_heads = 16,
                  .num_kv_heads = 8, .head_dim = 128, .vocab_size = 151936,
                  .context_length = 40960, .rms_norm_eps = 1e-6, .tied_embeddings = true,
                  .rope = {.theta = 1000000}}},
      {.name = "mistral-7b",
       .source = "mistralai/Mistral-7B-v0.1",
       .architecture = "llama",  // Mistral is Llama with a sliding window to the converter too
       .config = {.hidden_size = 4096, .ffn_dim = 14336, .num_layers = 32, .num_heads = 32,
                  .num_kv_heads = 8, .head_dim = 128, .vocab_size = 32000,
                  .context_length = 32768, .rms_norm_eps = 1e-5, .tied_embeddings = false,
                  .sliding_window = 4096, .rope = {.theta = 10000}}},
  };
  return shapes;
}

const ModelShape* FindModelShape(std::string_view name) {
  for (const ModelShape& shape : ModelShapes()) {
    if (shape.name == name) return &shape;
  }
  return nullptr;
}

namespace {

constexpr float kWeightStddev = 0.02f;

// splitmix64: a counter-based generator, so each value depends only on its stream and index, and
// threads fill disjoint ranges with no shared state.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Fills `values` with bf16 numbers drawn uniformly with the given mean and standard deviation.
// Trained weights are not uniform, but only their size matters for timing, and bounded values
// cannot overflow. Truncating to bf16 rather than rounding changes nothing that matters here.
void FillRandomBf16(uint16_t* values, int64_t n, float mean, float stddev, uint64_t stream) {
  const float half_width = stddev * std::sqrt(3.0f);  // of a uniform with that deviation
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float unit =
        static_cast<float>(SplitMix64(stream + i) >> 40) * 0x1p-23f - 1.0f;  // [-1, 1)
    values[i] = static_cast<uint16_t>(std::bit_cast<uint32_t>(mean + half_width * unit) >> 16);
  }
}

// Adds tensors of random values to a builder, each from a stream of its own, as views of buffers
// it keeps until the model file takes them over.
class RandomTensors {
 public:
  RandomTensors(gguf::GgufBuilder& out, uint64_t seed) : out_(out), seed_(seed) {}

  absl::Status Matrix(std::string_view name, int64_t rows, int64_t cols) {
    return Add(name, {rows, cols}, 0.0f);
  }
  absl::Status Bias(std::string_view name, int64_t size) { return AddVector(name, size, 0.0f); }
  absl::Status Norm(std::string_view name, int64_t size) { return AddVector(name, size, 1.0f); }

  // The memory of every tensor added, for the GgufFile to hold.
  std::shared_ptr<const void> TakeBuffers() {
    return std::make_shared<Buffers>(std::move(buffers_));
  }

 private:
  struct Buffers {
    std::vector<std::unique_ptr<uint16_t[]>> bf16;
    std::vector<std::unique_ptr<float[]>> f32;
  };

  absl::Status Add(std::string_view name, std::initializer_list<int64_t> shape, float mean) {
    int64_t n = 1;
    for (const int64_t dim : shape) n *= dim;
    // Left uninitialized, so that the threads filling it fault its pages in, in parallel.
    std::unique_ptr<uint16_t[]> values = std::make_unique_for_overwrite<uint16_t[]>(n);
    FillRandomBf16(values.get(), n, mean, kWeightStddev, NextStream());
    const Tensor tensor(values.get(), DType::kBF16, shape);
    buffers_.bf16.push_back(std::move(values));
    return out_.AddTensor(name, tensor);
  }

  // Norm weights and biases in F32, as llama.cpp's converter writes them from a bf16 checkpoint
  // (ggml adds to and multiplies activations by f32 or f16 vectors only): bf16 values widened.
  absl::Status AddVector(std::string_view name, int64_t size, float mean) {
    std::vector<uint16_t> bf16(size);
    FillRandomBf16(bf16.data(), size, mean, kWeightStddev, NextStream());
    std::unique_ptr<float[]> values = std::make_unique_for_overwrite<float[]>(size);
    for (int64_t i = 0; i < size; ++i) values[i] = cpu::BFloat16ToFloat(bf16[i]);
    const Tensor tensor(values.get(), DType::kF32, {size});
    buffers_.f32.push_back(std::move(values));
    return out_.AddTensor(name, tensor);
  }

  uint64_t NextStream() { return SplitMix64(seed_ ^ SplitMix64(tensors_++)); }

  gguf::GgufBuilder& out_;
  uint64_t seed_;
  uint64_t tensors_ = 0;
  Buffers buffers_;
};

// One layer's tensors under the names the family reads (core/models/<family>.cc).
absl::Status AddLayer(std::string_view architecture, const HfTransformerConfig& c, int layer,
                      RandomTensors& random) {
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = c.num_heads * c.head_dim;
  const int64_t kv_dim = c.num_kv_heads * c.head_dim;
  const int64_t ffn = c.ffn_dim;
  auto name = [layer](std::string_view tensor) { return LayerTensor(layer, tensor); };
  TESSERA_RETURN_IF_ERROR(random.Norm(name("attn_norm.weight"), hidden));
  TESSERA_RETURN_IF_ERROR(random.Norm(name("ffn_norm.weight"), hidden));
  TESSERA_RETURN_IF_ERROR(random.Matrix(name("attn_output.weight"), hidden, q_dim));
  TESSERA_RETURN_IF_ERROR(random.Matrix(name("ffn_down.weight"), hidden, ffn));
  if (architecture == "phi3") {
    // Fused as Phi-3 stores them: q, k and v rows in one matrix, gate and up rows in ffn_up.
    TESSERA_RETURN_IF_ERROR(random.Matrix(name("attn_qkv.weight"), q_dim + 2 * kv_dim, hidden));
    return random.Matrix(name("ffn_up.weight"), 2 * ffn, hidden);
  }
  TESSERA_RETURN_IF_ERROR(random.Matrix(name("attn_q.weight"), q_dim, hidden));
  TESSERA_RETURN_IF_ERROR(random.Matrix(name("attn_k.weight"), kv_dim, hidden));
  TESSERA_RETURN_IF_ERROR(random.Matrix(name("attn_v.weight"), kv_dim, hidden));
  TESSERA_RETURN_IF_ERROR(random.Matrix(name("ffn_gate.weight"), ffn, hidden));
  TESSERA_RETURN_IF_ERROR(random.Matrix(name("ffn_up.weight"), ffn, hidden));
  if (architecture == "qwen2") {
    TESSERA_RETURN_IF_ERROR(random.Bias(name("attn_q.bias"), q_dim));
    TESSERA_RETURN_IF_ERROR(random.Bias(name("attn_k.bias"), kv_dim));
    TESSERA_RETURN_IF_ERROR(random.Bias(name("attn_v.bias"), kv_dim));
  }
  if (architecture == "qwen3") {
    TESSERA_RETURN_IF_ERROR(random.Norm(name("attn_q_norm.weight"), c.head_dim));
    TESSERA_RETURN_IF_ERROR(random.Norm(name("attn_k_norm.weight"), c.head_dim));
  }
  return absl::OkStatus();
}

// The hyperparameters and tensors of BuildRandomModel, added to `out`; the tensors' memory is
// held by `random`.
absl::Status AddRandomModel(const ModelShape& shape, int layers, RandomTensors& random,
                            gguf::GgufBuilder& out) {
  HfTransformerConfig config = shape.config;
  if (layers > 0 && layers < config.num_layers) config.num_layers = layers;
  WriteTransformerHyperparameters(shape.architecture, config, out.metadata());
  TESSERA_RETURN_IF_ERROR(
      random.Matrix("token_embd.weight", config.vocab_size, config.hidden_size));
  TESSERA_RETURN_IF_ERROR(random.Norm("output_norm.weight", config.hidden_size));
  if (!config.tied_embeddings) {
    TESSERA_RETURN_IF_ERROR(random.Matrix("output.weight", config.vocab_size, config.hidden_size));
  }
  TESSERA_RETURN_IF_ERROR(AddLlama3RopeFactors(config, out));
  for (int l = 0; l < config.num_layers; ++l) {
    TESSERA_RETURN_IF_ERROR(AddLayer(shape.architecture, config, l, random));
  }
  return absl::OkStatus();
}

// A SentencePiece-style vocabulary of `size` tokens: unknown, BOS, EOS, the 256 byte tokens, and
// filler pieces. Any text encodes (as bytes, where no filler matches), so a server can load it;
// the benchmark's prompts are token ids.
SpmVocabulary FillerVocabulary(int32_t size) {
  SpmVocabulary vocabulary;
  const auto add = [&](std::string token, TokenType type) {
    vocabulary.tokens.push_back(std::move(token));
    vocabulary.types.push_back(type);
    vocabulary.scores.push_back(-static_cast<float>(vocabulary.scores.size()));
  };
  add("<unk>", TokenType::kUnknown);
  add("<s>", TokenType::kControl);
  add("</s>", TokenType::kControl);
  for (int byte = 0; byte < 256; ++byte) add(absl::StrFormat("<0x%02X>", byte), TokenType::kByte);
  while (static_cast<int32_t>(vocabulary.tokens.size()) < size) {
    add(absl::StrCat("\xe2\x96\x81" "filler", vocabulary.tokens.size()), TokenType::kNormal);
  }
  vocabulary.unknown_id = 0;
  vocabulary.bos_id = 1;
  vocabulary.eos_id = 2;
  return vocabulary;
}

}  // namespace

absl::StatusOr<std::unique_ptr<gguf::GgufFile>> BuildRandomModel(const ModelShape& shape,
                                                                 int layers, uint64_t seed) {
  gguf::GgufBuilder out;
  RandomTensors random(out, seed);
  TESSERA_RETURN_IF_ERROR(AddRandomModel(shape, layers, random, out));
  return std::move(out).Build(absl::StrCat("random ", shape.name), random.TakeBuffers());
}

absl::Status WriteServableRandomModel(const ModelShape& shape, int layers, uint64_t seed,
                                      const std::string& path) {
  gguf::GgufBuilder out;
  RandomTensors random(out, seed);
  TESSERA_RETURN_IF_ERROR(AddRandomModel(shape, layers, random, out));
  TESSERA_RETURN_IF_ERROR(
      AddVocabularyToGguf(FillerVocabulary(shape.config.vocab_size), out.metadata()));
  return out.WriteFile(path);
}

std::vector<int32_t> RandomTokens(int64_t n, int32_t vocab_size, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> token(0, vocab_size - 1);
  std::vector<int32_t> tokens(n);
  for (int32_t& t : tokens) t = token(rng);
  return tokens;
}

}  // namespace tessera::bench
