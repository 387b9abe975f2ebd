// Sampler: a sequence's SamplingParams and the state they need across steps (token counts for
// the penalties, the seeded generator), turned each step into the inputs of the token choice
// (kernels/token_choice.h), which applies them in a fixed order: logit bias,
// repetition/presence/frequency penalties, then greedy argmax when temperature is 0, otherwise
// temperature, top-k, top-p, min-p and a draw. Top-p keeps the shortest most-likely-first
// prefix of the top-k survivors holding at least top_p of their renormalized mass. Min-p
// compares probabilities to the most likely token's; that ratio is the same before and after
// top-k/top-p, so it keeps what it would keep on the full tempered distribution (as in vLLM).
// Ties between equal logits go to the lower token id.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/engine/sampling_params.h"
#include "kernels/token_choice.h"

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

  // What the next step's choice needs, for whichever device chooses (Model::ForwardAndChoose):
  // the logit bias and penalties as adjustments and, unless greedy, a draw whose u is the top 53
  // bits of the seeded mt19937_64's next output (the same on every platform). Call once a step.
  struct ChoiceInputs {
    std::vector<LogitAdjustment> adjustments;  // one entry per token touched, in token order
    std::optional<TokenDraw> draw;             // none: greedy
    int n_top = 0;                             // params.top_logprobs

    const TokenDraw* draw_or_null() const { return draw ? &*draw : nullptr; }
  };
  ChoiceInputs NextChoiceInputs();

  // The choice as the engine reports it.
  static SampledToken ToSampledToken(const TokenChoice& choice);

  // Chooses the next token on the host (cpu::ChooseToken with NextChoiceInputs). `logits` holds
  // vocab_size values; on return it holds them after the logit bias and penalties.
  SampledToken Sample(std::span<float> logits);

  // Records a token that joined the output (sampled, or appended by the caller).
  void Accept(int32_t token);

  const SamplingParams& params() const { return params_; }

 private:
  // What the logit bias and penalties do to the next step's logits (biases for one token add up).
  std::vector<LogitAdjustment> Adjustments() const;

  SamplingParams params_;
  int32_t vocab_size_;
  std::mt19937_64 rng_;
  // Whether a penalty reads the counts below; without one, every step would pay for a hash
  // map's update that nothing reads.
  bool counts_tokens_;
  absl::flat_hash_map<int32_t, int32_t> prompt_counts_;
  absl::flat_hash_map<int32_t, int32_t> output_counts_;
};

}  // namespace tessera
