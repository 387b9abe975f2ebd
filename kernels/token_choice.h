// The choice of the next token over one step's logits (greedy, or a draw from the tempered and
// truncated distribution) and what the reported log-probabilities need, computed where the
// logits are: the CPU backend (kernels/cpu/token_choice.cc, the reference) or the GPU
// (kernels/cuda/token_choice.cu), so that a model on a GPU sends back a few hundred bytes per
// step instead of the whole vocabulary's logits.
#pragma once

#include <cstdint>

namespace tessera {

// A change to one token's logit before the choice, in the order samplers apply them: the logit
// bias is added, then a repetition penalty divides a positive logit or multiplies a negative one,
// then presence and frequency penalties are subtracted.
struct LogitAdjustment {
  int32_t token = 0;
  float bias = 0;
  float repetition_penalty = 1;  // 1: none
  float subtract = 0;
};

constexpr float AdjustedLogit(float logit, const LogitAdjustment& adjustment) {
  logit += adjustment.bias;
  if (adjustment.repetition_penalty != 1) {
    logit = logit > 0 ? logit / adjustment.repetition_penalty
                      : logit * adjustment.repetition_penalty;
  }
  return logit - adjustment.subtract;
}

// A random draw instead of the greedy choice. The adjusted logits are divided by the temperature;
// top-k keeps the k most likely tokens, top-p the shortest most-likely-first run of those holding
// at least top_p of their mass, min-p those at least min_p times as likely as the most likely
// one. The token is the first whose cumulative probability exceeds u times the kept mass, walking
// the kept tokens most likely first when top-k or top-p is on and in id order otherwise (ties
// between equal logits go to the lower id).
struct TokenDraw {
  float temperature = 1;  // > 0
  int32_t top_k = 0;      // 0: off
  float top_p = 1;        // (0, 1]; 1: off
  float min_p = 0;        // [0, 1]; 0: off
  double u = 0;           // uniform in [0, 1), from the caller's seeded generator

  bool walks_most_likely_first() const { return top_k > 0 || top_p < 1; }
};

inline constexpr int kMaxChoiceTopLogits = 32;

// Plain data, so that a device can write it and one copy brings it back.
struct TokenChoice {
  int32_t token = 0;         // drawn, or greedy: the largest adjusted logit's, lowest id first
  float token_logit = 0;     // its logit before adjustment
  float log_normalizer = 0;  // log(sum(exp(logits))) over the unadjusted logits
  int32_t n_top = 0;
  // The n_top largest unadjusted logits, largest first, the lower id first among equals.
  int32_t top_tokens[kMaxChoiceTopLogits] = {};
  float top_logits[kMaxChoiceTopLogits] = {};
};

}  // namespace tessera
