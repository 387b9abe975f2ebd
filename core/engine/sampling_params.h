// What a caller may ask of the sampler. Defaults mean "no effect"; temperature 0 is greedy.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace tessera {

struct SamplingParams {
  float temperature = 1.0f;         // 0: greedy (argmax); > 0: divide logits by it
  int32_t top_k = 0;                // 0: off; otherwise keep the k most likely tokens
  float top_p = 1.0f;               // (0, 1]: keep the smallest set with this much mass
  float min_p = 0.0f;               // [0, 1]: drop tokens below min_p * p(most likely)
  float repetition_penalty = 1.0f;  // > 0; 1: off. Applied to tokens seen in prompt or output
  float presence_penalty = 0.0f;    // [-2, 2]; subtracted once from tokens in the output
  float frequency_penalty = 0.0f;   // [-2, 2]; subtracted per occurrence in the output
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the raw logits
  std::optional<uint64_t> seed;     // same seed and inputs -> same tokens
  int32_t top_logprobs = 0;         // how many alternatives to report with each token (0..20)
};

inline constexpr int32_t kMaxTopLogprobs = 20;

// OK, or INVALID_ARGUMENT naming the offending field as "sampling.<name>" (see InvalidField).
absl::Status ValidateSamplingParams(const SamplingParams& params, int32_t vocab_size);

}  // namespace tessera
