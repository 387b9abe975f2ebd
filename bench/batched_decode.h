// Batched decode on the GPU: `batch` sequences, each with a cache of `context` positions, advance
// one token each per step in one batched pass (Model::ForwardBatchAndChoose), as the engine's
// continuous batching steps its decoding streams. A step reads the weights once and every
// sequence's keys and values, so its bound is bandwidth / (weights + batch x KV bytes).
#pragma once

#include <cstdint>
#include <random>

#include "absl/status/statusor.h"
#include "core/models/model.h"

namespace tessera::bench {

struct BatchedDecodeFigures {
  int batch = 0;
  int64_t context = 0;
  int steps = 0;
  double seconds_per_step = 0;
  double bytes_per_step = 0;  // the weights a step reads plus every sequence's KV cache
  double bound_tokens_per_second = 0;

  double tokens_per_second() const { return batch / seconds_per_step; }
  double of_bound() const { return tokens_per_second() / bound_tokens_per_second; }
};

// Each sequence's cache filled by one untimed prefill of random tokens, then `warmup_steps` and
// `steps` timed steps of one greedy token per sequence. `decode_weight_bytes`: what one step reads
// of the weights; a sequence's keys and values are read for at most `sliding_window` positions
// (0: no window).
absl::StatusOr<BatchedDecodeFigures> MeasureBatchedDecode(const Model& model, int batch,
                                                          int64_t context, int warmup_steps,
                                                          int steps, int64_t decode_weight_bytes,
                                                          int64_t sliding_window, double bandwidth,
                                                          std::mt19937& rng);

}  // namespace tessera::bench
