#include "core/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace tessera {
namespace {

using TokenCounts = absl::flat_hash_map<int32_t, int32_t>;

// A token still in the running for the draw.
struct Candidate {
  int32_t token;
  float logit;      // after bias, penalties and temperature
  double prob = 0;  // filled by Softmax
};

// Higher logit first, ties to the lower id: a strict total order, so which tokens survive a cut
// and the order of the draw do not depend on the sort algorithm.
bool MoreLikely(const Candidate& a, const Candidate& b) {
  if (a.logit != b.logit) return a.logit > b.logit;
  return a.token < b.token;
}

const Candidate& MostLikely(const std::vector<Candidate>& candidates) {
  return *std::min_element(candidates.begin(), candidates.end(), MoreLikely);
}

void Count(int32_t token, int32_t vocab_size, TokenCounts& counts) {
  // An id outside the vocabulary has no logit to penalize.
  if (token >= 0 && token < vocab_size) ++counts[token];
}

uint64_t RandomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) | device();
}

// A uniform in [0, 1) from the top 53 bits, the same on every platform (unlike
// std::uniform_real_distribution, whose algorithm is left to the library).
double UniformFromBits(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// log(sum(exp(logits))): subtracting it from a logit gives that token's log-probability.
double LogSumExp(std::span<const float> logits) {
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float logit : logits) sum += std::exp(logit - max_logit);
  return max_logit + std::log(sum);
}

std::vector<Candidate> ToCandidates(std::span<const float> logits, float temperature) {
  std::vector<Candidate> candidates;  // [vocab_size], in id order
  candidates.reserve(logits.size());
  for (int32_t token = 0; token < static_cast<int32_t>(logits.size()); ++token) {
    candidates.push_back({token, logits[token] / temperature});
  }
  return candidates;
}

// Keeps the k most likely candidates (exactly k on ties), sorted most likely first.
void KeepMostLikely(int32_t k, std::vector<Candidate>& candidates) {
  const auto kept = candidates.begin() + std::min<size_t>(k, candidates.size());
  std::partial_sort(candidates.begin(), kept, candidates.end(), MoreLikely);
  candidates.erase(kept, candidates.end());
}

void Softmax(std::vector<Candidate>& candidates) {
  const double max_logit = MostLikely(candidates).logit;
  double sum = 0;
  for (Candidate& candidate : candidates) {
    candidate.prob = std::exp(candidate.logit - max_logit);
    sum += candidate.prob;
  }
  for (Candidate& candidate : candidates) candidate.prob /= sum;
}

// Keeps the shortest most-likely-first prefix holding at least `top_p` of the mass. That prefix
// is usually far shorter than the vocabulary, so only a growing head of it is sorted.
void KeepTopP(float top_p, std::vector<Candidate>& candidates) {
  double mass = 0;
  size_t kept = 0;
  for (size_t sorted = std::min<size_t>(256, candidates.size());;
       sorted = std::min(4 * sorted, candidates.size())) {
    // [kept, sorted) becomes the next most likely candidates, most likely first.
    std::nth_element(candidates.begin() + kept, candidates.begin() + sorted, candidates.end(),
                     MoreLikely);
    std::sort(candidates.begin() + kept, candidates.begin() + sorted, MoreLikely);
    while (kept < sorted && mass < top_p) mass += candidates[kept++].prob;
    if (mass >= top_p || sorted == candidates.size()) break;
  }
  candidates.resize(kept);
}

// Drops candidates less likely than min_p times the most likely one. The ratio of two
// probabilities does not depend on which others were cut, so this keeps the same tokens
// whether it looks at the full tempered distribution or at what top-k and top-p left.
void KeepMinP(float min_p, std::vector<Candidate>& candidates) {
  const double max_prob = MostLikely(candidates).prob;
  std::erase_if(candidates, [&](const Candidate& c) { return c.prob < min_p * max_prob; });
}

// Walks the candidates in their order until the cumulative probability passes u * total.
int32_t InverseCdf(const std::vector<Candidate>& candidates, double u) {
  double total = 0;
  for (const Candidate& candidate : candidates) total += candidate.prob;
  const double target = u * total;
  double mass = 0;
  int32_t chosen = candidates.front().token;
  for (const Candidate& candidate : candidates) {
    if (candidate.prob <= 0) continue;
    // Rounding can leave u * total == total; the last token with mass then wins.
    chosen = candidate.token;
    mass += candidate.prob;
    if (mass > target) break;
  }
  return chosen;
}

// Lowest id among the largest logits.
int32_t Argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// Applies the adjustments in place. Returns the raw logits of the tokens it changed, so that the
// chosen token's logprob can still be read from the model's own distribution.
absl::flat_hash_map<int32_t, float> ApplyAdjustments(
    std::span<const LogitAdjustment> adjustments, std::span<float> logits) {
  absl::flat_hash_map<int32_t, float> raw_logits;
  for (const LogitAdjustment& adjustment : adjustments) {
    raw_logits.emplace(adjustment.token, logits[adjustment.token]);
    logits[adjustment.token] = AdjustedLogit(logits[adjustment.token], adjustment);
  }
  return raw_logits;
}

}  // namespace

Sampler::Sampler(SamplingParams params, int32_t vocab_size, std::span<const int32_t> prompt)
    : params_(std::move(params)),
      vocab_size_(vocab_size),
      rng_(params_.seed ? *params_.seed : RandomSeed()) {
  for (int32_t token : prompt) Count(token, vocab_size_, prompt_counts_);
}

void Sampler::Accept(int32_t token) { Count(token, vocab_size_, output_counts_); }

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

SampledToken Sampler::Sample(std::span<float> logits) {
  SampledToken sampled;
  const double log_normalizer = LogSumExp(logits);
  if (params_.top_logprobs > 0) {
    std::vector<Candidate> top = ToCandidates(logits, 1.0f);
    KeepMostLikely(params_.top_logprobs, top);
    for (const Candidate& candidate : top) {
      sampled.top.push_back(
          {candidate.token, static_cast<float>(candidate.logit - log_normalizer)});
    }
  }

  const absl::flat_hash_map<int32_t, float> raw_logits = ApplyAdjustments(Adjustments(), logits);
  if (params_.temperature == 0) {
    sampled.token = Argmax(logits);
  } else {
    std::vector<Candidate> candidates = ToCandidates(logits, params_.temperature);
    if (params_.top_k > 0) KeepMostLikely(params_.top_k, candidates);
    Softmax(candidates);
    if (params_.top_p < 1) KeepTopP(params_.top_p, candidates);
    if (params_.min_p > 0) KeepMinP(params_.min_p, candidates);
    sampled.token = InverseCdf(candidates, UniformFromBits(rng_()));
  }

  const auto raw = raw_logits.find(sampled.token);
  const float raw_logit = raw != raw_logits.end() ? raw->second : logits[sampled.token];
  sampled.logprob = static_cast<float>(raw_logit - log_normalizer);
  return sampled;
}

}  // namespace tessera
