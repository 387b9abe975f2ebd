// Greedy decoding's choice over one step's logits, and what the reported log-probabilities need,
// computed where the logits are: the CPU backend (kernels/cpu/greedy_choice.cc, the reference)
// or the GPU (kernels/cuda/greedy_choice.cu), so that a model on a GPU sends back a few hundred
// bytes per step instead of the whole vocabulary's logits.
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

inline constexpr int kMaxGreedyTopLogits = 32;

// Plain data, so that a device can write it and one copy brings it back.
struct GreedyChoice {
  int32_t token = 0;         // the largest adjusted logit's; the lowest id among equals
  float token_logit = 0;     // its logit before adjustment
  float log_normalizer = 0;  // log(sum(exp(logits))) over the unadjusted logits
  int32_t n_top = 0;
  // The n_top largest unadjusted logits, largest first, the lower id first among equals.
  int32_t top_tokens[kMaxGreedyTopLogits] = {};
  float top_logits[kMaxGreedyTopLogits] = {};
};

}  // namespace tessera
