#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/cpu/ops.h"

namespace tessera::cpu {

GreedyChoice ChooseGreedy(const float* logits, int64_t vocab, const LogitAdjustment* adjustments,
                          int64_t n_adjustments, int n_top) {
  GreedyChoice choice;
  const double max_logit = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(logits[i] - max_logit);
  choice.log_normalizer = static_cast<float>(max_logit + std::log(sum));

  std::vector<float> adjusted(logits, logits + vocab);
  for (int64_t a = 0; a < n_adjustments; ++a) {
    const LogitAdjustment& adjustment = adjustments[a];
    adjusted[adjustment.token] = AdjustedLogit(logits[adjustment.token], adjustment);
  }
  // max_element keeps the first of equal maxima: the lowest id.
  choice.token = static_cast<int32_t>(std::max_element(adjusted.begin(), adjusted.end()) -
                                      adjusted.begin());
  choice.token_logit = logits[choice.token];

  choice.n_top = static_cast<int32_t>(
      std::clamp<int64_t>(std::min<int64_t>(n_top, vocab), 0, kMaxGreedyTopLogits));
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
