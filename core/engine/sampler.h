// Sampler: turns one step's logits into a token, applying the SamplingParams in a fixed order:
// logit bias, repetition/presence/frequency penalties, then greedy argmax when temperature is 0,
// otherwise temperature, top-k, top-p, min-p and a draw from a seeded generator.
// Top-p keeps the shortest most-likely-first prefix of the top-k survivors holding at least top_p
// of their renormalized mass. Min-p compares probabilities to the most likely token's; that ratio
// is the same before and after top-k/top-p, so it keeps what it would keep on the full tempered
// distribution (as in vLLM). Ties between equal logits go to the lower token id.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/engine/sampling_params.h"
#include "kernels/greedy_choice.h"

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
  // frequency penalties count only generated tokens (as in the OpenAI API). `params` must pass
  // ValidateSamplingParams for `vocab_size`; token ids outside the vocabulary are not counted.
  Sampler(SamplingParams params, int32_t vocab_size, std::span<const int32_t> prompt);

  // Chooses the next token. `logits` holds vocab_size values; on return it holds them after the
  // logit bias and penalties (before temperature). The draw is the same on every platform: u in
  // [0, 1) is the top 53 bits of one mt19937_64 output, and the token is the first whose
  // cumulative probability exceeds u, walking the kept tokens most likely first when top-k or
  // top-p is on and in id order otherwise.
  SampledToken Sample(std::span<float> logits);

  // Records a token that joined the output (sampled, or appended by the caller).
  void Accept(int32_t token);

  // What the logit bias and penalties do to the next step's logits, one entry per token they
  // touch (biases for one token add up), in token order: Sample applies these, and a greedy
  // choice made on the model's device (Model::ForwardGreedy) applies them there.
  std::vector<LogitAdjustment> Adjustments() const;

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  int32_t vocab_size_;
  std::mt19937_64 rng_;
  absl::flat_hash_map<int32_t, int32_t> prompt_counts_;
  absl::flat_hash_map<int32_t, int32_t> output_counts_;
};

}  // namespace tessera
