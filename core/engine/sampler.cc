#include "core/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/cpu/ops.h"

namespace tessera {
namespace {

using TokenCounts = absl::flat_hash_map<int32_t, int32_t>;

uint64_t RandomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) | device();
}

// A uniform in [0, 1) from the top 53 bits, the same on every platform (unlike
// std::uniform_real_distribution, whose algorithm is left to the library).
double UniformFromBits(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

void Count(int32_t token, int32_t vocab_size, TokenCounts& counts) {
  // An id outside the vocabulary has no logit to penalize.
  if (token >= 0 && token < vocab_size) ++counts[token];
}

}  // namespace

Sampler::Sampler(SamplingParams params, int32_t vocab_size, std::span<const int32_t> prompt)
    : params_(std::move(params)),
      vocab_size_(vocab_size),
      rng_(params_.seed ? *params_.seed : RandomSeed()),
      counts_tokens_(params_.repetition_penalty != 1 || params_.presence_penalty != 0 ||
                     params_.frequency_penalty != 0) {
  if (!counts_tokens_) return;
  for (int32_t token : prompt) Count(token, vocab_size_, prompt_counts_);
}

void Sampler::Accept(int32_t token) {
  if (counts_tokens_) Count(token, vocab_size_, output_counts_);
}

std::vector<LogitAdjustment> Sampler::Adjustments() const {
  absl::flat_hash_map<int32_t, LogitAdjustment> by_token;
  auto adjustment = [&](int32_t token) -> LogitAdjustment& {
    return by_token.try_emplace(token, LogitAdjustment{.token = token}).first->second;
  };
  for (const auto& [token, bias] : params_.logit_bias) adjustment(token).bias += bias;
  if (params_.repetition_penalty != 1) {
    for (const auto& [token, count] : prompt_counts_) {
      adjustment(token).repetition_penalty = params_.repetition_penalty;
    }
    for (const auto& [token, count] : output_counts_) {
      adjustment(token).repetition_penalty = params_.repetition_penalty;
    }
  }
  if (params_.presence_penalty != 0 || params_.frequency_penalty != 0) {
    for (const auto& [token, count] : output_counts_) {
      adjustment(token).subtract = params_.presence_penalty + count * params_.frequency_penalty;
    }
  }
  std::vector<LogitAdjustment> adjustments;
  adjustments.reserve(by_token.size());
  for (const auto& [token, a] : by_token) adjustments.push_back(a);
  std::sort(adjustments.begin(), adjustments.end(),
            [](const LogitAdjustment& a, const LogitAdjustment& b) { return a.token < b.token; });
  return adjustments;
}

Sampler::ChoiceInputs Sampler::NextChoiceInputs() {
  ChoiceInputs inputs{.adjustments = Adjustments(), .n_top = params_.top_logprobs};
  if (params_.temperature > 0) {
    inputs.draw = TokenDraw{.temperature = params_.temperature,
                            .top_k = params_.top_k,
                            .top_p = params_.top_p,
                            .min_p = params_.min_p,
                            .u = UniformFromBits(rng_())};
  }
  return inputs;
}

SampledToken Sampler::ToSampledToken(const TokenChoice& choice) {
  SampledToken sampled{.token = choice.token,
                       .logprob = choice.token_logit - choice.log_normalizer};
  for (int r = 0; r < choice.n_top; ++r) {
    sampled.top.push_back({choice.top_tokens[r], choice.top_logits[r] - choice.log_normalizer});
  }
  return sampled;
}

SampledToken Sampler::Sample(std::span<float> logits) {
  const ChoiceInputs inputs = NextChoiceInputs();
  const TokenChoice choice = cpu::ChooseToken(
      logits.data(), static_cast<int64_t>(logits.size()), inputs.adjustments.data(),
      static_cast<int64_t>(inputs.adjustments.size()), inputs.draw_or_null(), inputs.n_top);
  for (const LogitAdjustment& adjustment : inputs.adjustments) {
    logits[adjustment.token] = AdjustedLogit(logits[adjustment.token], adjustment);
  }
  return ToSampledToken(choice);
}

}  // namespace tessera
