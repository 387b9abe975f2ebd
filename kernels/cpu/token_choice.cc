#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/cpu/ops.h"

namespace tessera::cpu {
namespace {

// A token still in the running for the draw.
struct Candidate {
  int32_t token;
  float logit;      // after the adjustments and the temperature
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

int32_t Draw(const std::vector<float>& adjusted, const TokenDraw& draw) {
  std::vector<Candidate> candidates;  // [vocab], in id order
  candidates.reserve(adjusted.size());
  for (int32_t token = 0; token < static_cast<int32_t>(adjusted.size()); ++token) {
    candidates.push_back({token, adjusted[token] / draw.temperature});
  }
  if (draw.top_k > 0) KeepMostLikely(draw.top_k, candidates);
  Softmax(candidates);
  if (draw.top_p < 1) KeepTopP(draw.top_p, candidates);
  if (draw.min_p > 0) KeepMinP(draw.min_p, candidates);
  return InverseCdf(candidates, draw.u);
}

// The lowest id among the largest adjusted logits (max_element keeps the first of equals).
int32_t Greedy(const std::vector<float>& adjusted) {
  return static_cast<int32_t>(std::max_element(adjusted.begin(), adjusted.end()) -
                              adjusted.begin());
}

}  // namespace

TokenChoice ChooseToken(const float* logits, int64_t vocab, const LogitAdjustment* adjustments,
                        int64_t n_adjustments, const TokenDraw* draw, int n_top) {
  TokenChoice choice;
  const double max_logit = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(logits[i] - max_logit);
  choice.log_normalizer = static_cast<float>(max_logit + std::log(sum));

  std::vector<float> adjusted(logits, logits + vocab);
  for (int64_t a = 0; a < n_adjustments; ++a) {
    const LogitAdjustment& adjustment = adjustments[a];
    adjusted[adjustment.token] = AdjustedLogit(logits[adjustment.token], adjustment);
  }
  choice.token = draw != nullptr ? Draw(adjusted, *draw) : Greedy(adjusted);
  choice.token_logit = logits[choice.token];

  choice.n_top = static_cast<int32_t>(
      std::clamp<int64_t>(std::min<int64_t>(n_top, vocab), 0, kMaxChoiceTopLogits));
  if (choice.n_top == 0) return choice;  // the usual request: no id list to sort
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + choice.n_top, ids.end(),
                    [&](int32_t a, int32_t b) {
                      return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
                    });
  for (int i = 0; i < choice.n_top; ++i) {
    choice.top_tokens[i] = ids[i];
    choice.top_logits[i] = logits[ids[i]];
  }
  return choice;
}

}  // namespace tessera::cpu
