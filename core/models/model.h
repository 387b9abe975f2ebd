// The few things the engine needs from any model family: its dimensions and a forward pass.
// Each family (llama.cc, ...) builds itself directly from the shared blocks; this is the only
// interface they share.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "core/engine/kv_cache.h"
#include "core/format/gguf.h"
#include "kernels/tensor.h"
#include "kernels/token_choice.h"

namespace tessera {

struct ModelInfo {
  std::string architecture;  // as named in the model file, e.g. "llama"
  int32_t vocab_size = 0;
  int32_t hidden_size = 0;
  int32_t num_layers = 0;
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t context_length = 0;
  DType weight_dtype = DType::kF32;  // of the largest weight matrices
  int64_t weight_bytes = 0;
  KvCacheShape kv_shape;
  // Whether a position's keys and values depend on the tokens up to it alone, so that sequences
  // with one prompt prefix may share its KV blocks. Not so with LongRoPE, whose caches are
  // encoded afresh once a sequence passes the original context.
  bool prefix_determines_kv = true;
};

// How to choose the token after a chunk (cpu::ChooseToken): greedy when `draw` is null, else
// that draw, over the last token's logits after `adjustments`, with the n_top largest unadjusted
// logits.
struct ChoiceSpec {
  std::span<const LogitAdjustment> adjustments;
  const TokenDraw* draw = nullptr;
  int n_top = 0;
};

class Model {
 public:
  virtual ~Model() = default;

  virtual const ModelInfo& info() const = 0;

  // Runs `tokens` at positions [cache.length(), cache.length() + tokens.size()) through the
  // model, appending their keys and values to `cache`, and writes the last token's logits
  // ([vocab_size]) to `logits`. The cache must have room for the tokens.
  virtual absl::Status Forward(std::span<const int32_t> tokens, KvCache& cache,
                               std::span<float> logits) const = 0;

  // Forward, then the choice of the next token over the last token's logits after `adjustments`
  // (cpu::ChooseToken): greedy when `draw` is null, else that draw; with the n_top largest
  // unadjusted logits. A model on a GPU chooses there and sends back only the choice; this
  // default computes the logits and chooses on the host.
  virtual absl::StatusOr<TokenChoice> ForwardAndChoose(
      std::span<const int32_t> tokens, KvCache& cache,
      std::span<const LogitAdjustment> adjustments, const TokenDraw* draw, int n_top) const;

  // Every chunk through the model in one pass, so that the weights are read once for all their
  // tokens (a continuous-batching step: decoding sequences' single tokens beside prompt
  // chunks), then one choice per chunk as `choices` (same size) say. Each chunk's result equals
  // what ForwardAndChoose gives for it alone. `meanwhile` runs exactly once, on the calling
  // thread, while the device computes the pass (a model on the host runs it first), even when the
  // pass fails: the caller's own host work then costs the device no time. This default runs the
  // chunks one after another.
  virtual absl::StatusOr<std::vector<TokenChoice>> ForwardBatchAndChoose(
      std::span<const SequenceChunk> chunks, std::span<const ChoiceSpec> choices,
      absl::FunctionRef<void()> meanwhile) const;

  // Where its KV-cache pool must live: the memory of the device it computes on.
  virtual KvMemory& kv_memory() const { return HostKvMemory(); }

  // "cpu" or "cuda:N".
  virtual std::string device() const { return "cpu"; }
};

// Builds the model a GGUF file describes, choosing the family by general.architecture.
// The model reads its weights from `file`, which must outlive it.
// Errors: UNIMPLEMENTED (UNSUPPORTED_ARCHITECTURE) for an unknown family; INVALID_ARGUMENT
// (INVALID_MODEL_FILE) for missing or inconsistent metadata or tensors.
absl::StatusOr<std::unique_ptr<Model>> BuildModelFromGguf(const gguf::GgufFile& file);

}  // namespace tessera
