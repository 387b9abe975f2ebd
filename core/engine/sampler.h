// Sampler: turns one step's logits into a token, applying the SamplingParams in a fixed order:
// logit bias, repetition/presence/frequency penalties, then greedy argmax when temperature is 0,
// otherwise temperature, top-k, top-p, min-p and a draw from a seeded generator.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/engine/sampling_params.h"

namespace tessera {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;  // natural log of the model's probability (raw logits, before any sampling
                      // parameter is applied)
};

struct SampledToken {
  int32_t token = 0;
  float logprob = 0;
  std::vector<TokenLogprob> top;  // params.top_logprobs most likely tokens, most likely first
};

class Sampler {
 public:
  // `prompt` counts for the repetition penalty (as in Hugging Face and vLLM); presence and
  // frequency penalties count only generated tokens (as in the OpenAI API).
  Sampler(SamplingParams params, int32_t vocab_size, std::span<const int32_t> prompt);

  // Chooses the next token. `logits` holds vocab_size values and is used as scratch space.
  SampledToken Sample(std::span<float> logits);

  // Records a token that joined the output (sampled, or appended by the caller).
  void Accept(int32_t token);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  int32_t vocab_size_;
  std::mt19937_64 rng_;
  absl::flat_hash_map<int32_t, int32_t> prompt_counts_;
  absl::flat_hash_map<int32_t, int32_t> output_counts_;
};

}  // namespace tessera
