// tessera-bench: a whole model on the GPU at batch 1, against the ceilings the hardware sets.
//   decode:  tokens per second at several context lengths, against the memory bandwidth over
//            the bytes one step must read (the weights it uses and the KV cache so far);
//   prefill: tokens per second and TFLOP/s of prompts into an empty cache, against the GPU's
//            dense bf16 tensor-core peak.
//   streams: time to first token and inter-token latency of greedy generations, in process and
//            through the gRPC server, and the server's tokens/s against the in-process figure.
// The bandwidth is what a copy kernel reaches on the same GPU in the same run. The model is a
// real shape with random bf16 weights built in memory (--shape) or a model file (--model). The
// figures print as tables beside the targets they are held to, and go to --json.
//
//   tessera-bench --shape llama-3-8b|qwen2.5-0.5b|phi-3-mini-4k|qwen3-0.6b|mistral-7b
//                 | --model FILE.gguf|HF_DIRECTORY
//                 [--layers K] [--steps 64] [--contexts 128,2048,8192] [--prompts 512,2048]
//                 [--batches 1,8,32,64] [--batch_context 512]
//                 [--json PATH] [--streams 20] [--stream_prompt_tokens 512]
//                 [--stream_output_tokens 128] [--stream_model_dir /tmp]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "bench/batched_decode.h"
#include "bench/copy_bandwidth.h"
#include "bench/percentile.h"
#include "bench/random_model.h"
#include "bench/stream_latency.h"
#include "core/engine/kv_cache.h"
#include "core/models/cuda/cuda_status.h"
#include "core/models/cuda_backend.h"
#include "core/models/hf_directory.h"
#include "core/models/model.h"
#include "core/models/transformer.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

ABSL_FLAG(std::string, shape, "",
          "A real model shape with random bf16 weights: llama-3-8b, qwen2.5-0.5b, phi-3-mini-4k, "
          "qwen3-0.6b or mistral-7b.");
ABSL_FLAG(std::string, model, "",
          "A model file instead: a .gguf file or a Hugging Face directory.");
ABSL_FLAG(int, layers, 0, "Keep only the first K layers; 0: all of them.");
ABSL_FLAG(int, steps, 64, "Timed decode steps per context, after 4 warm-up steps.");
ABSL_FLAG(std::vector<std::string>, contexts, std::vector<std::string>({"128", "2048", "8192"}),
          "Context lengths to decode at.");
ABSL_FLAG(std::vector<std::string>, prompts, std::vector<std::string>({"512", "2048"}),
          "Prompt lengths to prefill.");
ABSL_FLAG(std::vector<std::string>, batches, std::vector<std::string>({"1", "8", "32", "64"}),
          "Sequences decoded together in one batched pass per step.");
ABSL_FLAG(int, batch_context, 512, "Cache positions of each batched sequence before its steps.");
ABSL_FLAG(std::string, json, "", "Where to write every figure as JSON.");
ABSL_FLAG(int, streams, 20,
          "Greedy streams timed in process and through the gRPC server (after a warm-up); 0: "
          "none. A --shape model is written to --stream_model_dir for them.");
ABSL_FLAG(int, stream_prompt_tokens, 512, "Prompt tokens of each stream.");
ABSL_FLAG(int, stream_output_tokens, 128, "Tokens each stream generates.");
ABSL_FLAG(std::string, stream_model_dir, "/tmp",
          "Where a --shape model is written as a .gguf file for the streams.");

namespace tessera::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWarmupSteps = 4;
constexpr int kPrefillRepeats = 3;
constexpr size_t kCopyBytesEachWay = size_t{1} << 30;
constexpr int kCopyRepeats = 10;
constexpr uint64_t kSeed = kRandomModelSeed;
constexpr double kGB = 1e9;

// Dense bf16 tensor-core peaks, half of the "with sparsity" figures of NVIDIA's datasheets,
// matched against the device's product name; the more specific names come first.
struct Bf16Peak {
  std::string_view name_contains;
  double flops_per_second;
  std::string_view source;
};
constexpr Bf16Peak kBf16Peaks[] = {
    {"H100 PCIe", 756.5e12, "NVIDIA H100 datasheet: H100 PCIe, 1513 TFLOP/s bf16 with sparsity"},
    {"H100 NVL", 835.5e12, "NVIDIA H100 datasheet: H100 NVL, 1671 TFLOP/s bf16 with sparsity"},
    {"H100", 989.4e12, "NVIDIA H100 datasheet: H100 SXM, 1979 TFLOP/s bf16 with sparsity"},
    {"H200 NVL", 835.5e12, "NVIDIA H200 datasheet: H200 NVL, 1671 TFLOP/s bf16 with sparsity"},
    {"H200", 989.4e12, "NVIDIA H200 datasheet: H200 SXM, 1979 TFLOP/s bf16 with sparsity"},
    {"A100", 312e12, "NVIDIA A100 datasheet: 312 TFLOP/s bf16 dense"},
};

const Bf16Peak* FindBf16Peak(std::string_view device_name) {
  for (const Bf16Peak& peak : kBf16Peaks) {
    if (device_name.find(peak.name_contains) != std::string_view::npos) return &peak;
  }
  return nullptr;
}

struct Options {
  const ModelShape* shape = nullptr;  // or
  std::string model_path;
  int layers = 0;
  int steps = 0;
  std::vector<int64_t> contexts;
  std::vector<int64_t> prompts;
  std::vector<int64_t> batches;
  int64_t batch_context = 0;
  std::string json_path;
  int streams = 0;
  int stream_prompt_tokens = 0;
  int stream_output_tokens = 0;
  std::string stream_model_dir;
};

absl::Status BadOption(absl::string_view what) {
  return WithReason(absl::InvalidArgumentError(what), reason::kInvalidArgument);
}

absl::StatusOr<std::vector<int64_t>> PositiveInts(absl::string_view flag,
                                                  const std::vector<std::string>& values) {
  std::vector<int64_t> ints;
  for (const std::string& value : values) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(value, &n) || n <= 0) {
      return BadOption(absl::StrCat("--", flag, ": '", value, "' is not a positive integer"));
    }
    ints.push_back(n);
  }
  return ints;
}

absl::StatusOr<Options> ReadOptions() {
  Options options;
  const std::string shape = absl::GetFlag(FLAGS_shape);
  options.model_path = absl::GetFlag(FLAGS_model);
  if (shape.empty() == options.model_path.empty()) {
    return BadOption("give exactly one of --shape and --model");
  }
  if (!shape.empty()) {
    options.shape = FindModelShape(shape);
    if (options.shape == nullptr) {
      std::vector<std::string> names;
      for (const ModelShape& s : ModelShapes()) names.push_back(s.name);
      return BadOption(absl::StrCat("--shape: unknown shape '", shape,
                                    "' (known: ", absl::StrJoin(names, ", "), ")"));
    }
  }
  options.layers = absl::GetFlag(FLAGS_layers);
  options.steps = absl::GetFlag(FLAGS_steps);
  if (options.layers < 0) return BadOption("--layers must be 0 (all) or more");
  if (options.steps < 1) return BadOption("--steps must be at least 1");
  TESSERA_ASSIGN_OR_RETURN(options.contexts,
                           PositiveInts("contexts", absl::GetFlag(FLAGS_contexts)));
  TESSERA_ASSIGN_OR_RETURN(options.prompts, PositiveInts("prompts", absl::GetFlag(FLAGS_prompts)));
  TESSERA_ASSIGN_OR_RETURN(options.batches, PositiveInts("batches", absl::GetFlag(FLAGS_batches)));
  options.batch_context = absl::GetFlag(FLAGS_batch_context);
  if (options.batch_context < 1) return BadOption("--batch_context must be at least 1");
  options.json_path = absl::GetFlag(FLAGS_json);
  options.streams = absl::GetFlag(FLAGS_streams);
  options.stream_prompt_tokens = absl::GetFlag(FLAGS_stream_prompt_tokens);
  options.stream_output_tokens = absl::GetFlag(FLAGS_stream_output_tokens);
  options.stream_model_dir = absl::GetFlag(FLAGS_stream_model_dir);
  if (options.streams < 0) return BadOption("--streams must be 0 (none) or more");
  if (options.stream_prompt_tokens < 1 || options.stream_output_tokens < 2) {
    return BadOption("streams need a prompt token and two output tokens at least");
  }
  return options;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// What the figures are computed from, read off the model as it is loaded.
struct ModelFacts {
  std::string name;    // the shape, or the path of the file
  std::string source;  // the shape's config.json; empty for a file
  int all_layers = 0;  // before --layers
  ModelInfo info;      // of the model on the device
  int64_t weight_bytes = 0;
  int64_t sliding_window = 0;
  int64_t decode_weight_bytes = 0;  // what one decode step reads: all but an untied embedding
  int64_t layer_matmul_params = 0;  // weights each token is multiplied with, over all layers
};

struct LoadedModel {
  std::unique_ptr<Model> model;  // on cuda:0
  ModelFacts facts;
};

absl::StatusOr<std::unique_ptr<gguf::GgufFile>> OpenModelFile(const std::string& path) {
  if (IsHfDirectory(path)) return OpenHfDirectory(path, /*require_tokenizer=*/false);
  return gguf::GgufFile::Open(path);
}

// Bytes of the distinct weight tensors (tied embeddings count once) in the dtype they are
// stored in, which the device keeps.
int64_t WeightBytes(const TransformerWeights& w) {
  absl::flat_hash_set<const void*> seen;
  int64_t bytes = 0;
  auto add = [&](const Tensor& t) {
    if (seen.insert(t.data).second) bytes += static_cast<int64_t>(t.bytes());
  };
  add(w.token_embd);
  add(w.output_norm);
  add(w.output);
  for (const TransformerLayer& layer : w.layers) {
    const AttentionWeights& a = layer.attention.weights();
    for (const Tensor* t : {&layer.attn_norm, &layer.ffn_norm, &a.q, &a.k, &a.v, &a.o,
                            &layer.ffn.gate, &layer.ffn.up, &layer.ffn.down}) {
      add(*t);
    }
    for (const std::optional<Tensor>* t : {&a.q_bias, &a.k_bias, &a.v_bias, &a.q_norm, &a.k_norm}) {
      if (t->has_value()) add(**t);
    }
  }
  return bytes;
}

// `model` with only its first `layers` layers (which stay views of the same weights).
std::unique_ptr<Transformer> KeepLayers(const Transformer& model, int layers) {
  ModelInfo info = model.info();
  info.num_layers = layers;
  info.kv_shape.num_layers = layers;
  TransformerWeights weights = model.weights();
  weights.layers.erase(weights.layers.begin() + layers, weights.layers.end());
  info.weight_bytes = WeightBytes(weights);
  return std::make_unique<Transformer>(std::move(info), model.rms_norm_eps(),
                                       model.rope_switch_position(), std::move(weights));
}

// Builds or opens the model, keeps the first options.layers layers and uploads it to cuda:0.
// The host copy and the file are released on return.
absl::StatusOr<LoadedModel> LoadModel(const Options& options) {
  const Clock::time_point start = Clock::now();
  ModelFacts facts;
  std::unique_ptr<gguf::GgufFile> file;
  if (options.shape != nullptr) {
    facts.name = options.shape->name;
    facts.source = absl::StrCat(options.shape->source, " config.json");
    facts.all_layers = static_cast<int>(options.shape->config.num_layers);
    TESSERA_ASSIGN_OR_RETURN(file, BuildRandomModel(*options.shape, options.layers, kSeed));
  } else {
    facts.name = options.model_path;
    TESSERA_ASSIGN_OR_RETURN(file, OpenModelFile(options.model_path));
  }
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<Model> host, BuildModelFromGguf(*file));
  const auto* transformer = dynamic_cast<const Transformer*>(host.get());
  if (transformer == nullptr) {
    return absl::UnimplementedError(absl::StrCat(facts.name, " is not a transformer"));
  }
  if (options.shape == nullptr) facts.all_layers = transformer->info().num_layers;
  if (options.layers > 0 && options.layers < transformer->info().num_layers) {
    host = KeepLayers(*transformer, options.layers);
    transformer = static_cast<const Transformer*>(host.get());
  }
  std::fprintf(stderr, "model built in %.1f s; uploading\n", SecondsSince(start));

  const TransformerWeights& w = transformer->weights();
  facts.weight_bytes = WeightBytes(w);
  for (const TransformerLayer& layer : w.layers) {
    const AttentionWeights& a = layer.attention.weights();
    for (const Tensor* t :
         {&a.q, &a.k, &a.v, &a.o, &layer.ffn.gate, &layer.ffn.up, &layer.ffn.down}) {
      facts.layer_matmul_params += t->numel();
    }
  }
  facts.sliding_window = w.layers.front().attention.config().sliding_window;
  // A step gathers one row of an untied embedding table; a tied one is read whole as the LM head.
  const bool tied = w.output.data == w.token_embd.data;
  const int64_t row_bytes =
      static_cast<int64_t>(w.token_embd.cols() * DTypeSize(w.token_embd.dtype));
  facts.decode_weight_bytes =
      facts.weight_bytes - (tied ? 0 : static_cast<int64_t>(w.token_embd.bytes()) - row_bytes);

  const Clock::time_point upload_start = Clock::now();
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<Model> device,
                           UploadToCuda(*host, 0, [](int64_t, int64_t) {}));
  std::fprintf(stderr, "uploaded in %.1f s\n", SecondsSince(upload_start));
  facts.info = device->info();
  return LoadedModel{std::move(device), std::move(facts)};
}

// Keys a query at `position` (0-based) attends to: all before it and itself, or the window.
int64_t VisibleKeys(int64_t position, int64_t sliding_window) {
  return sliding_window > 0 ? std::min(position + 1, sliding_window) : position + 1;
}

struct DecodeFigures {
  int64_t context = 0;
  int steps = 0;
  double seconds_per_token = 0;
  double bytes_per_token = 0;  // weights read plus the KV cache read at `context`
  double ceiling_tokens_per_second = 0;

  double tokens_per_second() const { return 1 / seconds_per_token; }
  double of_ceiling() const { return tokens_per_second() / ceiling_tokens_per_second; }
};

// A cache of `context` random tokens (one prefill, not timed), then kWarmupSteps and `steps`
// timed decode steps, each one greedy step as a server takes it (ForwardAndChoose: the token is
// chosen on the device and only it comes back).
absl::StatusOr<DecodeFigures> MeasureDecode(const LoadedModel& loaded, int64_t context, int steps,
                                            double bandwidth, std::mt19937& rng) {
  const Model& model = *loaded.model;
  const ModelInfo& info = loaded.facts.info;
  const int64_t capacity = context + kWarmupSteps + steps;
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<KvCachePool> pool,
                           KvCachePool::Create(info.kv_shape, capacity, model.kv_memory()));
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<KvCache> cache, pool->Allocate(capacity));
  TESSERA_RETURN_IF_ERROR(
      model.ForwardAndChoose(RandomTokens(context, info.vocab_size, rng), *cache, {}, nullptr, 0)
          .status());
  const std::vector<int32_t> tokens = RandomTokens(kWarmupSteps + steps, info.vocab_size, rng);
  for (int i = 0; i < kWarmupSteps; ++i) {
    TESSERA_RETURN_IF_ERROR(
        model.ForwardAndChoose({&tokens[i], 1}, *cache, {}, nullptr, 0).status());
  }
  const Clock::time_point start = Clock::now();
  for (int i = kWarmupSteps; i < kWarmupSteps + steps; ++i) {
    TESSERA_RETURN_IF_ERROR(
        model.ForwardAndChoose({&tokens[i], 1}, *cache, {}, nullptr, 0).status());
  }
  DecodeFigures figures{.context = context, .steps = steps};
  figures.seconds_per_token = SecondsSince(start) / steps;
  // The keys and values of `context` positions, or of the window where that is shorter.
  const int64_t window = loaded.facts.sliding_window;
  const int64_t kv_read =
      info.kv_shape.bytes_per_token() * (window > 0 ? std::min(context, window) : context);
  figures.bytes_per_token = static_cast<double>(loaded.facts.decode_weight_bytes + kv_read);
  figures.ceiling_tokens_per_second = bandwidth / figures.bytes_per_token;
  return figures;
}

struct PrefillFigures {
  int64_t tokens = 0;
  double seconds = 0;  // the median of kPrefillRepeats
  double flops = 0;

  double tokens_per_second() const { return tokens / seconds; }
  double flops_per_second() const { return flops / seconds; }
};

// Matrix work of every token in every layer, the LM head for the last token only (Forward
// computes no other logits), and attention: QK^T and PV, 2 * head_dim FLOPs each per query head
// and visible key.
double PrefillFlops(const ModelFacts& facts, int64_t tokens) {
  const ModelInfo& info = facts.info;
  double visible_keys = 0;
  for (int64_t p = 0; p < tokens; ++p) visible_keys += VisibleKeys(p, facts.sliding_window);
  return 2.0 * facts.layer_matmul_params * tokens + 2.0 * info.vocab_size * info.hidden_size +
         4.0 * info.num_layers * info.num_heads * info.head_dim * visible_keys;
}

// A prompt of `tokens` random tokens into an empty cache: once to warm up (scratch memory,
// cuBLAS's choice of kernels), then kPrefillRepeats timed passes.
absl::StatusOr<PrefillFigures> MeasurePrefill(const LoadedModel& loaded, int64_t tokens,
                                              std::mt19937& rng) {
  const Model& model = *loaded.model;
  const ModelInfo& info = loaded.facts.info;
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<KvCachePool> pool,
                           KvCachePool::Create(info.kv_shape, tokens, model.kv_memory()));
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<KvCache> cache, pool->Allocate(tokens));
  std::vector<float> logits(info.vocab_size);  // [vocab]
  const std::vector<int32_t> prompt = RandomTokens(tokens, info.vocab_size, rng);
  std::vector<double> seconds;
  for (int i = -1; i < kPrefillRepeats; ++i) {  // i = -1: the warm-up
    TESSERA_RETURN_IF_ERROR(cache->Clear());
    const Clock::time_point start = Clock::now();
    TESSERA_RETURN_IF_ERROR(model.Forward(prompt, *cache, logits));
    if (i >= 0) seconds.push_back(SecondsSince(start));
  }
  std::sort(seconds.begin(), seconds.end());
  return PrefillFigures{.tokens = tokens,
                        .seconds = seconds[seconds.size() / 2],
                        .flops = PrefillFlops(loaded.facts, tokens)};
}

// A figure and the least value it is meant to reach.
struct Target {
  std::string figure;
  double measured = 0;
  double at_least = 0;
  bool is_fraction = false;  // printed as a percentage

  bool met() const { return measured >= at_least; }
};

struct StreamFigures {
  int requests = 0;
  int prompt_tokens = 0;
  int output_tokens = 0;
  LatencyFigures in_process;
  LatencyFigures grpc;

  double grpc_over_in_process() const {
    return grpc.tokens_per_second / in_process.tokens_per_second;
  }
};

// The model the streams load: the --model path, or the --shape model written out.
absl::StatusOr<std::string> StreamModelPath(const Options& options) {
  if (options.shape == nullptr) return options.model_path;
  const std::string path = absl::StrCat(options.stream_model_dir, "/tessera-bench-",
                                        options.shape->name, ".gguf");
  TESSERA_RETURN_IF_ERROR(WriteServableRandomModel(*options.shape, options.layers, kSeed, path));
  return path;
}

absl::StatusOr<StreamFigures> MeasureStreams(const Options& options) {
  TESSERA_ASSIGN_OR_RETURN(const std::string path, StreamModelPath(options));
  const LatencyOptions latency{
      .model_path = path,
      .requests = options.streams,
      .prompt_tokens = options.stream_prompt_tokens,
      .output_tokens = options.stream_output_tokens,
      // One sequence at a time: room for one, not the engine's default of several full contexts.
      .kv_cache_tokens = options.stream_prompt_tokens + options.stream_output_tokens + 1};
  StreamFigures figures{.requests = options.streams,
                        .prompt_tokens = options.stream_prompt_tokens,
                        .output_tokens = options.stream_output_tokens};
  absl::StatusOr<LatencyFigures> in_process = MeasureInProcess(latency);
  absl::StatusOr<LatencyFigures> grpc =
      in_process.ok() ? MeasureThroughGrpc(latency) : in_process.status();
  if (options.shape != nullptr) std::remove(path.c_str());
  TESSERA_RETURN_IF_ERROR(grpc.status());
  figures.in_process = *std::move(in_process);
  figures.grpc = *std::move(grpc);
  return figures;
}

void PrintStreams(const StreamFigures& s) {
  std::printf(
      "\nstreams: %d greedy generations one after another (after a warm-up), %d prompt tokens, "
      "%d output tokens each\n",
      s.requests, s.prompt_tokens, s.output_tokens);
  std::printf(
      "| route | TTFT p50 ms | TTFT p90 ms | TTFT p99 ms | ITL p50 ms | ITL p90 ms | ITL p99 ms "
      "| tokens/s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto& [route, f] : {std::pair<const char*, const LatencyFigures&>{"in process",
                                                                             s.in_process},
                                 {"gRPC", s.grpc}}) {
    std::printf("| %s | %.2f | %.2f | %.2f | %.3f | %.3f | %.3f | %.1f |\n", route,
                Percentile(f.time_to_first_token_ms, 50), Percentile(f.time_to_first_token_ms, 90),
                Percentile(f.time_to_first_token_ms, 99), Percentile(f.inter_token_ms, 50),
                Percentile(f.inter_token_ms, 90), Percentile(f.inter_token_ms, 99),
                f.tokens_per_second);
  }
}

nlohmann::ordered_json LatencyJson(const LatencyFigures& f) {
  nlohmann::ordered_json out;
  for (const double p : {50.0, 90.0, 99.0}) {
    out[absl::StrFormat("time_to_first_token_ms_p%g", p)] =
        Percentile(f.time_to_first_token_ms, p);
    out[absl::StrFormat("inter_token_ms_p%g", p)] = Percentile(f.inter_token_ms, p);
  }
  out["tokens_per_second"] = f.tokens_per_second;
  return out;
}

const DecodeFigures* DecodeAt(const std::vector<DecodeFigures>& decode, int64_t context) {
  for (const DecodeFigures& d : decode) {
    if (d.context == context) return &d;
  }
  return nullptr;
}

const BatchedDecodeFigures* BatchOf(const std::vector<BatchedDecodeFigures>& batched, int batch) {
  for (const BatchedDecodeFigures& b : batched) {
    if (b.batch == batch) return &b;
  }
  return nullptr;
}

std::vector<Target> TargetsFor(const ModelFacts& facts, bool random_shape,
                               const std::vector<DecodeFigures>& decode,
                               const std::vector<PrefillFigures>& prefill,
                               const std::vector<BatchedDecodeFigures>& batched,
                               const Bf16Peak* peak, const std::optional<StreamFigures>& streams) {
  std::vector<Target> targets;
  const DecodeFigures* at_128 = DecodeAt(decode, 128);
  const DecodeFigures* at_8192 = DecodeAt(decode, 8192);
  // The per-model targets are for the whole model of that shape.
  const bool whole_shape = random_shape && facts.info.num_layers == facts.all_layers;
  if (whole_shape && facts.name == "llama-3-8b" && at_128 != nullptr) {
    targets.push_back(
        {"llama-3-8b decode at context 128, tokens/s", at_128->tokens_per_second(), 184});
    targets.push_back(
        {"llama-3-8b decode at context 128, of the ceiling", at_128->of_ceiling(), 0.98, true});
  }
  if (whole_shape && facts.name == "qwen2.5-0.5b" && at_128 != nullptr) {
    targets.push_back(
        {"qwen2.5-0.5b decode at context 128, tokens/s", at_128->tokens_per_second(), 1500});
  }
  for (const PrefillFigures& p : prefill) {
    if (p.tokens == 2048 && peak != nullptr) {
      targets.push_back({"prefill of 2048 tokens, of the bf16 peak",
                         p.flops_per_second() / peak->flops_per_second, 0.60, true});
    }
  }
  if (at_128 != nullptr && at_8192 != nullptr) {
    targets.push_back({"decode at context 8192 / at context 128, tokens/s",
                       at_8192->tokens_per_second() / at_128->tokens_per_second(), 0.9});
  }
  const BatchedDecodeFigures* batch_1 = BatchOf(batched, 1);
  const BatchedDecodeFigures* batch_64 = BatchOf(batched, 64);
  if (whole_shape && facts.name == "llama-3-8b" && batch_64 != nullptr) {
    targets.push_back(
        {"llama-3-8b decode of 64 sequences, tokens/s", batch_64->tokens_per_second(), 6000});
    targets.push_back(
        {"llama-3-8b decode of 64 sequences, of the bound", batch_64->of_bound(), 0.70, true});
  }
  if (batch_1 != nullptr && batch_64 != nullptr) {
    // At most 1.5x the batch-1 step time, said as at least 1 / 1.5 of its speed.
    targets.push_back({"step time at batch 1 / at batch 64",
                       batch_1->seconds_per_step / batch_64->seconds_per_step, 1 / 1.5});
  }
  if (streams.has_value()) {
    targets.push_back({"streams through gRPC / in process, tokens/s",
                       streams->grpc_over_in_process(), 0.97});
  }
  return targets;
}

std::string Percent(double fraction) { return absl::StrFormat("%.1f%%", 100 * fraction); }

void PrintHeader(const ModelFacts& facts, const CudaDeviceInfo& device, const CopyBandwidth& copy,
                 const Bf16Peak* peak) {
  const ModelInfo& info = facts.info;
  std::printf("model      %s", facts.name.c_str());
  if (!facts.source.empty()) std::printf(" (%s), random bf16 weights", facts.source.c_str());
  std::printf(", %d of %d layers\n", info.num_layers, facts.all_layers);
  std::printf("           hidden %d, %d heads, %d kv heads, head_dim %d, vocab %d, context %d%s\n",
              info.hidden_size, info.num_heads, info.num_kv_heads, info.head_dim, info.vocab_size,
              info.context_length,
              facts.sliding_window > 0
                  ? absl::StrCat(", sliding window ", facts.sliding_window).c_str()
                  : "");
  std::printf("weights    %.3f GB on the device; a decode step reads %.3f GB of them\n",
              facts.weight_bytes / kGB, facts.decode_weight_bytes / kGB);
  std::printf("device     %s (%s)\n", device.description.c_str(), device.name.c_str());
  std::printf(
      "bandwidth  %.1f GB/s: copy kernel, bytes read + written, %zu MiB each way, best of %d\n",
      copy.bytes_per_second / kGB, copy.bytes_each_way >> 20, copy.repeats);
  if (peak != nullptr) {
    std::printf("bf16 peak  %.1f TFLOP/s dense (%s)\n", peak->flops_per_second / 1e12,
                std::string(peak->source).c_str());
  } else {
    std::printf("bf16 peak  n/a (no entry for this device)\n");
  }
}

void PrintDecodeHeader(int steps) {
  std::printf(
      "\ndecode, batch 1: %d timed steps after %d warm-up, each one greedy step (ForwardAndChoose: "
      "the token is chosen on the GPU)\n",
      steps, kWarmupSteps);
  std::printf(
      "| context | tokens/s | ms/token | GB read/token | ceiling tokens/s | of ceiling |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
}

void PrintDecodeRow(const DecodeFigures& d) {
  std::printf("| %lld | %.1f | %.3f | %.3f | %.1f | %s |\n", static_cast<long long>(d.context),
              d.tokens_per_second(), 1e3 * d.seconds_per_token, d.bytes_per_token / kGB,
              d.ceiling_tokens_per_second, Percent(d.of_ceiling()).c_str());
  std::fflush(stdout);
}

void PrintBatchedDecodeHeader(int64_t context, int steps) {
  std::printf(
      "\nbatched decode: each sequence's cache holds %lld positions, then %d timed steps after %d "
      "warm-up, one greedy token per sequence per step in one pass (ForwardBatchAndChoose)\n",
      static_cast<long long>(context), steps, kWarmupSteps);
  std::printf(
      "| batch | tokens/s | ms/step | GB read/step | bound tokens/s | of bound | step / batch-1 "
      "step |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
}

void PrintBatchedDecodeRow(const BatchedDecodeFigures& b, const BatchedDecodeFigures* batch_1) {
  std::printf("| %d | %.1f | %.3f | %.3f | %.1f | %s | %s |\n", b.batch, b.tokens_per_second(),
              1e3 * b.seconds_per_step, b.bytes_per_step / kGB, b.bound_tokens_per_second,
              Percent(b.of_bound()).c_str(),
              batch_1 != nullptr
                  ? absl::StrFormat("%.2f", b.seconds_per_step / batch_1->seconds_per_step).c_str()
                  : "");
  std::fflush(stdout);
}

void PrintPrefillHeader() {
  std::printf("\nprefill into an empty cache: median of %d passes after a warm-up\n",
              kPrefillRepeats);
  std::printf("| tokens | ms | tokens/s | TFLOP/s | of bf16 peak |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: |\n");
}

void PrintPrefillRow(const PrefillFigures& p, const Bf16Peak* peak) {
  std::printf(
      "| %lld | %.2f | %.0f | %.1f | %s |\n", static_cast<long long>(p.tokens), 1e3 * p.seconds,
      p.tokens_per_second(), p.flops_per_second() / 1e12,
      peak != nullptr ? Percent(p.flops_per_second() / peak->flops_per_second).c_str() : "n/a");
  std::fflush(stdout);
}

void PrintTargets(const std::vector<Target>& targets) {
  std::printf("\ntargets\n| figure | measured | target | met |\n| --- | ---: | ---: | --- |\n");
  for (const Target& t : targets) {
    const std::string measured =
        t.is_fraction ? Percent(t.measured) : absl::StrFormat("%.2f", t.measured);
    const std::string at_least =
        t.is_fraction ? Percent(t.at_least) : absl::StrFormat("%g", t.at_least);
    std::printf("| %s | %s | >= %s | %s |\n", t.figure.c_str(), measured.c_str(), at_least.c_str(),
                t.met() ? "yes" : "no");
  }
  if (targets.empty()) std::printf("| (none apply to this run) | | | |\n");
}

absl::Status WriteJson(const std::string& path, const ModelFacts& facts,
                       const CudaDeviceInfo& device, const CopyBandwidth& copy,
                       const Bf16Peak* peak, const std::vector<DecodeFigures>& decode,
                       const std::vector<PrefillFigures>& prefill,
                       const std::vector<BatchedDecodeFigures>& batched,
                       const std::optional<StreamFigures>& streams,
                       const std::vector<Target>& targets) {
  using Json = nlohmann::ordered_json;
  const ModelInfo& info = facts.info;
  Json out;
  out["device"] = {
      {"name", device.description},
      {"copy_bandwidth_bytes_per_second", copy.bytes_per_second},
      {"copy_bytes_each_way", copy.bytes_each_way},
      {"copy_repeats", copy.repeats},
      {"bf16_peak_flops_per_second", peak != nullptr ? Json(peak->flops_per_second) : Json()},
      {"bf16_peak_source", peak != nullptr ? Json(std::string(peak->source)) : Json()},
  };
  out["model"] = {
      {"name", facts.name},
      {"source", facts.source},
      {"architecture", info.architecture},
      {"layers", info.num_layers},
      {"all_layers", facts.all_layers},
      {"hidden_size", info.hidden_size},
      {"num_heads", info.num_heads},
      {"num_kv_heads", info.num_kv_heads},
      {"head_dim", info.head_dim},
      {"vocab_size", info.vocab_size},
      {"context_length", info.context_length},
      {"sliding_window", facts.sliding_window},
      {"weight_bytes", facts.weight_bytes},
      {"decode_weight_bytes", facts.decode_weight_bytes},
      {"kv_bytes_per_token", info.kv_shape.bytes_per_token()},
  };
  out["decode"] = Json::array();
  for (const DecodeFigures& d : decode) {
    out["decode"].push_back({{"context", d.context},
                             {"steps", d.steps},
                             {"warmup_steps", kWarmupSteps},
                             {"tokens_per_second", d.tokens_per_second()},
                             {"ms_per_token", 1e3 * d.seconds_per_token},
                             {"bytes_per_token", d.bytes_per_token},
                             {"ceiling_tokens_per_second", d.ceiling_tokens_per_second},
                             {"of_ceiling", d.of_ceiling()}});
  }
  out["batched_decode"] = Json::array();
  for (const BatchedDecodeFigures& b : batched) {
    out["batched_decode"].push_back({{"batch", b.batch},
                                     {"context", b.context},
                                     {"steps", b.steps},
                                     {"tokens_per_second", b.tokens_per_second()},
                                     {"ms_per_step", 1e3 * b.seconds_per_step},
                                     {"bytes_per_step", b.bytes_per_step},
                                     {"bound_tokens_per_second", b.bound_tokens_per_second},
                                     {"of_bound", b.of_bound()}});
  }
  out["prefill"] = Json::array();
  for (const PrefillFigures& p : prefill) {
    out["prefill"].push_back(
        {{"tokens", p.tokens},
         {"seconds", p.seconds},
         {"tokens_per_second", p.tokens_per_second()},
         {"flops", p.flops},
         {"flops_per_second", p.flops_per_second()},
         {"of_bf16_peak",
          peak != nullptr ? Json(p.flops_per_second() / peak->flops_per_second) : Json()}});
  }
  if (streams.has_value()) {
    out["streams"] = {{"requests", streams->requests},
                      {"prompt_tokens", streams->prompt_tokens},
                      {"output_tokens", streams->output_tokens},
                      {"in_process", LatencyJson(streams->in_process)},
                      {"grpc", LatencyJson(streams->grpc)}};
  }
  out["targets"] = Json::array();
  for (const Target& t : targets) {
    out["targets"].push_back({{"figure", t.figure},
                              {"measured", t.measured},
                              {"at_least", t.at_least},
                              {"met", t.met()}});
  }
  std::ofstream file(path);
  file << out.dump(2) << "\n";
  file.close();
  if (!file) return absl::InternalError(absl::StrCat(path, ": could not be written"));
  return absl::OkStatus();
}

absl::Status Run(const Options& options) {
  const std::vector<CudaDeviceInfo> devices = CudaDevices();
  if (devices.empty()) {
    return WithReason(absl::FailedPreconditionError("no CUDA device"), reason::kUnsupportedDevice);
  }
  const CudaDeviceInfo& device = devices.front();
  const Bf16Peak* peak = FindBf16Peak(device.description);
  // Before the model takes the memory.
  TESSERA_RETURN_IF_CUDA_ERROR(cudaSetDevice(0));
  CopyBandwidth copy;
  TESSERA_RETURN_IF_CUDA_ERROR(MeasureCopyBandwidth(kCopyBytesEachWay, kCopyRepeats, &copy));

  TESSERA_ASSIGN_OR_RETURN(const LoadedModel loaded, LoadModel(options));
  const ModelFacts& facts = loaded.facts;
  PrintHeader(facts, device, copy, peak);
  std::mt19937 rng(kSeed);

  PrintDecodeHeader(options.steps);
  std::vector<DecodeFigures> decode;
  for (const int64_t context : options.contexts) {
    if (context + kWarmupSteps + options.steps > facts.info.context_length) {
      std::printf("| %lld | skipped: beyond the model's context | | | | |\n",
                  static_cast<long long>(context));
      continue;
    }
    TESSERA_ASSIGN_OR_RETURN(
        DecodeFigures d, MeasureDecode(loaded, context, options.steps, copy.bytes_per_second, rng));
    PrintDecodeRow(d);
    decode.push_back(d);
  }

  PrintPrefillHeader();
  std::vector<PrefillFigures> prefill;
  for (const int64_t tokens : options.prompts) {
    if (tokens > facts.info.context_length) {
      std::printf("| %lld | skipped: beyond the model's context | | | |\n",
                  static_cast<long long>(tokens));
      continue;
    }
    TESSERA_ASSIGN_OR_RETURN(PrefillFigures p, MeasurePrefill(loaded, tokens, rng));
    PrintPrefillRow(p, peak);
    prefill.push_back(p);
  }

  PrintBatchedDecodeHeader(options.batch_context, options.steps);
  std::vector<BatchedDecodeFigures> batched;
  for (const int64_t batch : options.batches) {
    if (options.batch_context + kWarmupSteps + options.steps > facts.info.context_length) break;
    TESSERA_ASSIGN_OR_RETURN(
        BatchedDecodeFigures b,
        MeasureBatchedDecode(*loaded.model, static_cast<int>(batch), options.batch_context,
                             kWarmupSteps, options.steps, facts.decode_weight_bytes,
                             facts.sliding_window, copy.bytes_per_second, rng));
    PrintBatchedDecodeRow(b, BatchOf(batched, 1));
    batched.push_back(b);
  }

  std::optional<StreamFigures> streams;
  if (options.streams > 0) {
    TESSERA_ASSIGN_OR_RETURN(streams, MeasureStreams(options));
    PrintStreams(*streams);
  }

  const std::vector<Target> targets =
      TargetsFor(facts, options.shape != nullptr, decode, prefill, batched, peak, streams);
  PrintTargets(targets);
  if (options.json_path.empty()) return absl::OkStatus();
  return WriteJson(options.json_path, facts, device, copy, peak, decode, prefill, batched, streams,
                   targets);
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "batch-1 decode and prefill of a model on the GPU against its bandwidth and bf16 peak.\n"
      "  tessera-bench --shape NAME | --model PATH [--layers K] [--steps N]\n"
      "                [--contexts 128,2048,8192] [--prompts 512,2048] [--json PATH]\n"
      "                [--batches 1,8,32,64] [--batch_context 512]\n"
      "                [--streams 20] [--stream_prompt_tokens 512] [--stream_output_tokens 128]\n"
      "                [--stream_model_dir /tmp]");
  absl::ParseCommandLine(argc, argv);
  // As tessera-server runs (server/main.cc), so the engine here costs what it costs there.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const absl::StatusOr<tessera::bench::Options> options = tessera::bench::ReadOptions();
  if (!options.ok()) {
    std::fprintf(stderr, "tessera-bench: %s\n", options.status().ToString().c_str());
    return 2;
  }
  const absl::Status status = tessera::bench::Run(*options);
  if (!status.ok()) {
    std::fprintf(stderr, "tessera-bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
