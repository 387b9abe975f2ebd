// The CUDA backend of the transformer families against the CPU backend, on the same weights: the
// tiny transformers-made models of every family (tests/data/hf_tiny) and the default model, as
// stored (F32) and with their matrices rounded to BF16, on both backends.
//
// Tolerances: with F32 weights both backends compute in fp32 throughout and differ only in
// summation order: 1e-4 of the largest logit. With BF16 weights and an fp32 cache a single-token
// step keeps fp32 activations too (1e-4, as long as every earlier step was a single token), but a
// multi-token pass feeds the tensor-core GEMMs bf16 activations (8 significant bits), and its keys
// and values stay in the cache: from then on 2e-2 of the largest logit. With a BF16 cache (the
// GPU's default for BF16 weights) every key and value is rounded to bf16 as well, from the first
// step: 4e-2 (measured up to 2.4e-2 on the tiny models).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/engine/kv_cache.h"
#include "core/engine/sampler.h"
#include "core/format/gguf.h"
#include "core/format/gguf_builder.h"
#include "core/models/cuda_backend.h"
#include "core/models/hf_directory.h"
#include "core/models/model.h"
#include "gtest/gtest.h"
#include "kernels/cpu/half.h"
#include "tests/core/chunked_batch_util.h"

namespace tessera {
namespace {

constexpr double kSingleTokenTolerance = 1e-4;
constexpr double kPromptTolerance = 2e-2;
constexpr double kSixteenBitCacheTolerance = 4e-2;

#define SKIP_WITHOUT_CUDA_DEVICE()                                  \
  do {                                                              \
    if (CudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";   \
  } while (0)

// `file` with every F32 matrix rounded to BF16, the rest (metadata, vectors) as it is.
std::unique_ptr<gguf::GgufFile> WithBf16Matrices(const gguf::GgufFile& file) {
  gguf::GgufBuilder builder;
  for (const auto& [key, value] : file.metadata()) builder.metadata().AddValue(key, value);
  for (const gguf::TensorInfo& info : file.tensors()) {
    const absl::StatusOr<Tensor> tensor = file.GetTensor(info.name);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    if (tensor->dtype == DType::kF32 && tensor->rank >= 2) {
      std::string bytes(tensor->numel() * 2, '\0');
      auto* out = reinterpret_cast<uint16_t*>(bytes.data());
      const auto* in = static_cast<const float*>(tensor->data);
      for (int64_t i = 0; i < tensor->numel(); ++i) out[i] = cpu::FloatToBFloat16(in[i]);
      const std::vector<int64_t> shape(tensor->shape, tensor->shape + tensor->rank);
      EXPECT_TRUE(builder.AddOwnedTensor(info.name, DType::kBF16, shape, std::move(bytes)).ok());
    } else {
      EXPECT_TRUE(builder.AddTensor(info.name, *tensor).ok());
    }
  }
  auto built = std::move(builder).Build(file.path(), nullptr);
  EXPECT_TRUE(built.ok()) << built.status();
  return built.ok() ? *std::move(built) : nullptr;
}

struct BothBackends {
  std::unique_ptr<gguf::GgufFile> file;       // when the models were loaded by name
  std::unique_ptr<gguf::GgufFile> bf16_file;  // when the matrices were rounded
  std::unique_ptr<Model> cpu;
  std::unique_ptr<Model> gpu;
};

// The GPU's KV cache in `kv_cache_dtype`, or its default for the weights.
BothBackends Load(const gguf::GgufFile& file, DType matrices,
                  std::optional<DType> kv_cache_dtype = std::nullopt) {
  BothBackends models;
  if (matrices == DType::kBF16) models.bf16_file = WithBf16Matrices(file);
  auto cpu = BuildModelFromGguf(models.bf16_file ? *models.bf16_file : file);
  EXPECT_TRUE(cpu.ok()) << cpu.status();
  auto gpu = UploadToCuda(
      **cpu, 0, [](int64_t, int64_t) {}, kv_cache_dtype);
  EXPECT_TRUE(gpu.ok()) << gpu.status();
  models.cpu = *std::move(cpu);
  models.gpu = *std::move(gpu);
  return models;
}

// The default model (models/stories260K.gguf) on both backends; gpu is null on failure.
BothBackends LoadDefaultModel(DType matrices, std::optional<DType> kv_cache_dtype = std::nullopt) {
  auto file = gguf::GgufFile::Open(std::string(TESSERA_MODELS_DIR) + "/stories260K.gguf");
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return {};
  BothBackends models = Load(**file, matrices, kv_cache_dtype);
  models.file = *std::move(file);
  return models;
}

float LargestMagnitude(const std::vector<float>& values) {
  float largest = 0;
  for (const float v : values) largest = std::max(largest, std::abs(v));
  return largest;
}

int32_t Argmax(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// Runs the prompt and then `steps` greedy tokens on both backends, both fed the CPU's choice so
// that one near-tie cannot send them down different paths. Every step's logits must agree within
// the tolerance of the most approximate pass so far; the tokens must agree wherever the CPU's
// best logit leads the runner-up by more than twice that, i.e. wherever the choice is decisive.
void ExpectBackendsAgree(const BothBackends& models, const std::vector<int32_t>& prompt,
                         int steps) {
  const ModelInfo& info = models.cpu->info();
  const std::unique_ptr<KvCachePool> cpu_pool = KvCachePool::Create(info.kv_shape, 4096).value();
  const std::unique_ptr<KvCachePool> gpu_pool =
      KvCachePool::Create(models.gpu->info().kv_shape, 4096, models.gpu->kv_memory()).value();
  const int64_t length = static_cast<int64_t>(prompt.size()) + steps;
  auto cpu_cache = cpu_pool->Allocate(length);
  auto gpu_cache = gpu_pool->Allocate(length);
  ASSERT_TRUE(cpu_cache.ok() && gpu_cache.ok());
  std::vector<float> cpu_logits(info.vocab_size), gpu_logits(info.vocab_size);
  std::vector<int32_t> input = prompt;
  const bool bf16 = models.cpu->info().weight_dtype == DType::kBF16;
  const bool sixteen_bit_cache = models.gpu->info().kv_shape.dtype != DType::kF32;
  double relative_tolerance = sixteen_bit_cache ? kSixteenBitCacheTolerance : kSingleTokenTolerance;
  for (int step = 0; step <= steps; ++step) {
    if (bf16 && !sixteen_bit_cache && input.size() > 1) relative_tolerance = kPromptTolerance;
    ASSERT_TRUE(models.cpu->Forward(input, **cpu_cache, cpu_logits).ok());
    const absl::Status gpu_status = models.gpu->Forward(input, **gpu_cache, gpu_logits);
    ASSERT_TRUE(gpu_status.ok()) << gpu_status;
    const float largest = LargestMagnitude(cpu_logits);
    float worst = 0;
    for (size_t v = 0; v < cpu_logits.size(); ++v) {
      worst = std::max(worst, std::abs(gpu_logits[v] - cpu_logits[v]));
    }
    ASSERT_LE(worst, relative_tolerance * largest)
        << "step " << step << ": largest difference " << worst / largest << " of the largest logit";
    std::vector<float> sorted = cpu_logits;
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
    if (sorted[0] - sorted[1] > 2 * relative_tolerance * largest) {
      ASSERT_EQ(Argmax(gpu_logits), Argmax(cpu_logits)) << "step " << step;
    }
    input = {Argmax(cpu_logits)};
  }
}

class CudaTransformerFamilyTest
    : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(CudaTransformerFamilyTest, AgreesWithCpuOnEveryReferencePrompt) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const auto& [family, matrices] = GetParam();
  const std::string dir = std::string(TESSERA_TEST_DATA_DIR) + "/hf_tiny/" + family;
  auto file = OpenHfDirectory(dir, /*require_tokenizer=*/false);
  ASSERT_TRUE(file.ok()) << file.status();
  const BothBackends models = Load(**file, matrices);
  ASSERT_NE(models.gpu, nullptr);
  std::ifstream reference_file(dir + "/reference.json");
  const nlohmann::json reference = nlohmann::json::parse(reference_file);
  for (const nlohmann::json& prompt : reference.at("prompts")) {
    const auto tokens = prompt.at("tokens").get<std::vector<int32_t>>();
    SCOPED_TRACE(::testing::Message() << "prompt of " << tokens.size() << " tokens");
    ExpectBackendsAgree(models, tokens, 16);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Families, CudaTransformerFamilyTest,
    ::testing::Combine(::testing::Values("llama3", "qwen2", "qwen3", "mistral", "phi3",
                                         "phi3_longrope"),
                       ::testing::Values(DType::kF32, DType::kBF16)),
    [](const auto& info) {
      return std::get<0>(info.param) + "_" + std::string(DTypeName(std::get<1>(info.param)));
    });

// A batched pass on the GPU (every chunk's rows through the projections as one GEMM, rotation and
// attention per chunk) against the CPU's batched pass, which equals each sequence's pass alone
// (batched_forward_test.cc): the three reference prompts in chunks of 10 beside each other's
// decoding, both backends fed the CPU's greedy tokens. Decode rows go through the GEMMs too, on
// bf16 activations with BF16 weights: the prompt tolerance from the first pass.
TEST_P(CudaTransformerFamilyTest, BatchedPassAgreesWithCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const auto& [family, matrices] = GetParam();
  auto file = OpenHfDirectory(std::string(TESSERA_TEST_DATA_DIR) + "/hf_tiny/" + family,
                              /*require_tokenizer=*/false);
  ASSERT_TRUE(file.ok()) << file.status();
  const BothBackends models = Load(**file, matrices);
  ASSERT_NE(models.gpu, nullptr);
  const std::vector<std::vector<int32_t>> prompts = testing::HfTinyReferencePrompts(family);
  constexpr size_t kChunk = 10, kDecodeSteps = 8;
  const std::unique_ptr<KvCachePool> cpu_pool =
      KvCachePool::Create(models.cpu->info().kv_shape, 512).value();
  const std::unique_ptr<KvCachePool> gpu_pool =
      KvCachePool::Create(models.gpu->info().kv_shape, 512, models.gpu->kv_memory()).value();
  const auto cpu = testing::RunChunkedBatch(*models.cpu, *cpu_pool, prompts, kChunk, kDecodeSteps,
                                            testing::GreedyNext);
  const auto gpu = testing::RunChunkedBatch(
      *models.gpu, *gpu_pool, prompts, kChunk, kDecodeSteps,
      [&](size_t sequence, size_t step, const TokenChoice&) { return cpu[sequence][step].token; });
  ASSERT_EQ(cpu.size(), prompts.size());
  ASSERT_EQ(gpu.size(), prompts.size());
  const double tolerance = matrices == DType::kF32 ? kSingleTokenTolerance
                           : models.gpu->info().kv_shape.dtype != DType::kF32
                               ? kSixteenBitCacheTolerance
                               : kPromptTolerance;
  for (size_t s = 0; s < prompts.size(); ++s) {
    ASSERT_EQ(gpu[s].size(), cpu[s].size());
    for (size_t step = 0; step < cpu[s].size(); ++step) {
      SCOPED_TRACE(::testing::Message()
                   << "prompt of " << prompts[s].size() << " tokens, choice " << step);
      const TokenChoice& c = cpu[s][step];
      const TokenChoice& g = gpu[s][step];
      const double allowed = tolerance * std::max(1.0f, std::abs(c.top_logits[0]));
      EXPECT_NEAR(g.top_logits[0], c.top_logits[0], allowed);
      EXPECT_NEAR(g.log_normalizer, c.log_normalizer, allowed);
      if (c.top_logits[0] - c.top_logits[1] > 2 * allowed) {
        EXPECT_EQ(g.token, c.token);
      }
    }
  }
}

struct WeightsAndCache {
  DType weights;
  DType kv_cache;
};

class CudaDefaultModelTest : public ::testing::TestWithParam<WeightsAndCache> {};

TEST_P(CudaDefaultModelTest, AgreesWithCpuFor256GreedySteps) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const BothBackends models = LoadDefaultModel(GetParam().weights, GetParam().kv_cache);
  ASSERT_NE(models.gpu, nullptr);
  ExpectBackendsAgree(models, {1}, 255);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaDefaultModelTest,
                         ::testing::Values(WeightsAndCache{DType::kF32, DType::kF32},
                                           WeightsAndCache{DType::kBF16, DType::kF32},
                                           WeightsAndCache{DType::kBF16, DType::kBF16}),
                         [](const auto& info) {
                           return std::string(DTypeName(info.param.weights)) + "_cache" +
                                  std::string(DTypeName(info.param.kv_cache));
                         });

// Decode steps replay one captured graph whatever the sequence: two sequences of different
// lengths advanced in turn must each give the CPU's logits, step by step.
TEST(CudaTransformerTest, InterleavedSequencesEachMatchTheCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const BothBackends models = LoadDefaultModel(DType::kF32);
  ASSERT_NE(models.gpu, nullptr);
  const ModelInfo& info = models.cpu->info();
  const std::unique_ptr<KvCachePool> cpu_pool = KvCachePool::Create(info.kv_shape, 512).value();
  const std::unique_ptr<KvCachePool> gpu_pool =
      KvCachePool::Create(models.gpu->info().kv_shape, 512, models.gpu->kv_memory()).value();
  const std::vector<std::vector<int32_t>> prompts = {{1}, {1, 403, 407, 260, 54, 15}};
  std::vector<std::unique_ptr<KvCache>> cpu_caches, gpu_caches;
  std::vector<std::vector<int32_t>> inputs = prompts;
  for (size_t i = 0; i < prompts.size(); ++i) {
    cpu_caches.push_back(*cpu_pool->Allocate(64));
    gpu_caches.push_back(*gpu_pool->Allocate(64));
  }
  std::vector<float> cpu_logits(info.vocab_size), gpu_logits(info.vocab_size);
  for (int step = 0; step < 40; ++step) {
    for (size_t i = 0; i < prompts.size(); ++i) {
      ASSERT_TRUE(models.cpu->Forward(inputs[i], *cpu_caches[i], cpu_logits).ok());
      ASSERT_TRUE(models.gpu->Forward(inputs[i], *gpu_caches[i], gpu_logits).ok());
      float worst = 0;
      for (size_t v = 0; v < cpu_logits.size(); ++v) {
        worst = std::max(worst, std::abs(gpu_logits[v] - cpu_logits[v]));
      }
      ASSERT_LE(worst, kSingleTokenTolerance * LargestMagnitude(cpu_logits))
          << "sequence " << i << ", step " << step;
      inputs[i] = {Argmax(cpu_logits)};
    }
  }
}

// Greedy decoding chosen on the GPU against the CPU model's greedy choice, step by step, with a
// logit bias and penalties on the tokens generated so far: same tokens, and log-probabilities
// within fp32 summation error.
TEST(CudaTransformerTest, TokenChoiceOnTheGpuMatchesTheCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const BothBackends models = LoadDefaultModel(DType::kF32);
  ASSERT_NE(models.gpu, nullptr);
  const ModelInfo& info = models.cpu->info();
  const std::unique_ptr<KvCachePool> cpu_pool = KvCachePool::Create(info.kv_shape, 128).value();
  const std::unique_ptr<KvCachePool> gpu_pool =
      KvCachePool::Create(models.gpu->info().kv_shape, 128, models.gpu->kv_memory()).value();
  auto cpu_cache = cpu_pool->Allocate(128);
  auto gpu_cache = gpu_pool->Allocate(128);
  ASSERT_TRUE(cpu_cache.ok() && gpu_cache.ok());
  std::vector<int32_t> input = {1, 403, 407};
  std::vector<LogitAdjustment> adjustments = {{.token = 13, .bias = 1.5f}};
  for (int step = 0; step < 64; ++step) {
    const auto cpu = models.cpu->ForwardAndChoose(input, **cpu_cache, adjustments, nullptr, 5);
    const auto gpu = models.gpu->ForwardAndChoose(input, **gpu_cache, adjustments, nullptr, 5);
    ASSERT_TRUE(cpu.ok() && gpu.ok()) << "step " << step;
    ASSERT_EQ(gpu->token, cpu->token) << "step " << step;
    EXPECT_NEAR(gpu->token_logit - gpu->log_normalizer, cpu->token_logit - cpu->log_normalizer,
                1e-4);
    ASSERT_EQ(gpu->n_top, 5);
    for (int r = 0; r < 5; ++r) EXPECT_EQ(gpu->top_tokens[r], cpu->top_tokens[r]);
    input = {cpu->token};
    adjustments.push_back({.token = cpu->token, .repetition_penalty = 1.3f, .subtract = 0.2f});
    std::sort(adjustments.begin(), adjustments.end(),
              [](const auto& a, const auto& b) { return a.token < b.token; });
    // One entry per token.
    adjustments.erase(std::unique(adjustments.begin(), adjustments.end(),
                                  [](const auto& a, const auto& b) { return a.token == b.token; }),
                      adjustments.end());
  }
}

// Seeded sampling drawn on the GPU against the same draws on the CPU model, for each of the
// draw's walks (id order; most likely first after top-k and top-p) with a penalty: the same
// tokens for 64 steps. The draws' u are the same; the logits differ by fp32 rounding, which moves
// a token only when a u falls within about 1e-6 of a cumulative boundary.
TEST(CudaTransformerTest, SeededDrawsOnTheGpuMatchTheCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const BothBackends models = LoadDefaultModel(DType::kF32);
  ASSERT_NE(models.gpu, nullptr);
  const ModelInfo& info = models.cpu->info();
  const std::vector<int32_t> prompt = {1, 403, 407};
  for (const SamplingParams& params :
       {SamplingParams{.temperature = 0.9f, .min_p = 0.02f, .seed = 7},
        SamplingParams{.temperature = 1.2f, .top_k = 50, .top_p = 0.9f,
                       .frequency_penalty = 0.5f, .seed = 8, .top_logprobs = 2}}) {
    SCOPED_TRACE(::testing::Message() << "top_k " << params.top_k);
    const std::unique_ptr<KvCachePool> cpu_pool = KvCachePool::Create(info.kv_shape, 128).value();
    const std::unique_ptr<KvCachePool> gpu_pool =
        KvCachePool::Create(models.gpu->info().kv_shape, 128, models.gpu->kv_memory()).value();
    auto cpu_cache = cpu_pool->Allocate(128);
    auto gpu_cache = gpu_pool->Allocate(128);
    ASSERT_TRUE(cpu_cache.ok() && gpu_cache.ok());
    Sampler cpu_sampler(params, info.vocab_size, prompt);
    Sampler gpu_sampler(params, info.vocab_size, prompt);
    std::vector<int32_t> input = prompt;
    for (int step = 0; step < 64; ++step) {
      const Sampler::ChoiceInputs cpu_inputs = cpu_sampler.NextChoiceInputs();
      const Sampler::ChoiceInputs gpu_inputs = gpu_sampler.NextChoiceInputs();
      const auto cpu = models.cpu->ForwardAndChoose(input, **cpu_cache, cpu_inputs.adjustments,
                                                    cpu_inputs.draw_or_null(), cpu_inputs.n_top);
      const auto gpu = models.gpu->ForwardAndChoose(input, **gpu_cache, gpu_inputs.adjustments,
                                                    gpu_inputs.draw_or_null(), gpu_inputs.n_top);
      ASSERT_TRUE(cpu.ok() && gpu.ok()) << "step " << step;
      ASSERT_EQ(gpu->token, cpu->token) << "step " << step;
      EXPECT_NEAR(gpu->token_logit - gpu->log_normalizer,
                  cpu->token_logit - cpu->log_normalizer, 1e-4);
      cpu_sampler.Accept(cpu->token);
      gpu_sampler.Accept(gpu->token);
      input = {cpu->token};
    }
  }
}

TEST(CudaTransformerTest, ReportsTheDeviceAndKeepsCachesThere) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const BothBackends models = LoadDefaultModel(DType::kBF16);
  ASSERT_NE(models.gpu, nullptr);
  EXPECT_EQ(models.gpu->device(), "cuda:0");
  EXPECT_NE(&models.gpu->kv_memory(), &HostKvMemory());
  EXPECT_EQ(models.gpu->info().weight_dtype, DType::kBF16);
  EXPECT_EQ(models.gpu->info().weight_bytes, models.cpu->info().weight_bytes);
  // The cache follows the weights to bf16 there, half the CPU's fp32 bytes.
  EXPECT_EQ(models.gpu->info().kv_shape.dtype, DType::kBF16);
  EXPECT_EQ(2 * models.gpu->info().kv_shape.bytes_per_token(),
            models.cpu->info().kv_shape.bytes_per_token());
}

TEST(CudaTransformerTest, UnknownDeviceIsAnInvalidArgument) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto file = gguf::GgufFile::Open(std::string(TESSERA_MODELS_DIR) + "/stories260K.gguf");
  ASSERT_TRUE(file.ok());
  auto cpu = BuildModelFromGguf(**file);
  ASSERT_TRUE(cpu.ok());
  auto gpu = UploadToCuda(**cpu, CudaDeviceCount(), [](int64_t, int64_t) {});
  EXPECT_EQ(gpu.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
