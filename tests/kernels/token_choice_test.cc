// The CPU token choice on hand-computed cases: adjustments in the documented order, ties to the
// lower id, the log-normalizer and the unadjusted top list; draws walking the cumulative
// distribution in id order or most likely first, after temperature, top-k, top-p and min-p.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"

namespace tessera::cpu {
namespace {

TEST(TokenChoiceTest, PicksTheLargestLogitAndItsLogNormalizer) {
  const std::vector<float> logits = {0.0f, 2.0f, std::log(3.0f), -1.0f};
  const TokenChoice choice = ChooseToken(logits.data(), 4, nullptr, 0, nullptr, 0);
  EXPECT_EQ(choice.token, 1);
  EXPECT_EQ(choice.token_logit, 2.0f);
  // log(e^0 + e^2 + 3 + e^-1)
  EXPECT_NEAR(choice.log_normalizer, std::log(1 + std::exp(2.0) + 3 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(choice.n_top, 0);
}

TEST(TokenChoiceTest, TiesGoToTheLowerId) {
  const std::vector<float> logits = {1.0f, 5.0f, 5.0f, 5.0f};
  const TokenChoice choice = ChooseToken(logits.data(), 4, nullptr, 0, nullptr, 3);
  EXPECT_EQ(choice.token, 1);
  ASSERT_EQ(choice.n_top, 3);
  EXPECT_EQ(std::vector<int32_t>(choice.top_tokens, choice.top_tokens + 3),
            (std::vector<int32_t>{1, 2, 3}));
}

TEST(TokenChoiceTest, AdjustsBeforeChoosingButReportsUnadjustedLogits) {
  const std::vector<float> logits = {4.0f, 3.0f, -2.0f, 1.0f};
  const std::vector<LogitAdjustment> adjustments = {
      {.token = 0, .repetition_penalty = 2.0f},                 // 4 / 2 = 2
      {.token = 2, .bias = 8.0f, .repetition_penalty = 2.0f},  // (-2 + 8) / 2 = 3, ties token 1
      {.token = 1, .subtract = 0.5f}};                         // 3 - 0.5 = 2.5
  const TokenChoice choice = ChooseToken(logits.data(), 4, adjustments.data(), 3, nullptr, 2);
  EXPECT_EQ(choice.token, 2);
  EXPECT_EQ(choice.token_logit, -2.0f);
  // The top list is of the model's own logits.
  ASSERT_EQ(choice.n_top, 2);
  EXPECT_EQ(choice.top_tokens[0], 0);
  EXPECT_EQ(choice.top_logits[0], 4.0f);
  EXPECT_EQ(choice.top_tokens[1], 1);
}

TEST(TokenChoiceTest, NegativeLogitsAreMultipliedByTheRepetitionPenalty) {
  EXPECT_EQ(AdjustedLogit(-3.0f, {.repetition_penalty = 1.5f}), -4.5f);
  EXPECT_EQ(AdjustedLogit(3.0f, {.repetition_penalty = 1.5f}), 2.0f);
  EXPECT_EQ(AdjustedLogit(1.0f, {.bias = -2.0f, .repetition_penalty = 2.0f, .subtract = 1.0f}),
            -3.0f);  // (1 - 2) * 2 - 1
}

TEST(TokenChoiceTest, TopListIsCappedByTheVocabulary) {
  const std::vector<float> logits = {1.0f, 2.0f};
  EXPECT_EQ(ChooseToken(logits.data(), 2, nullptr, 0, nullptr, 5).n_top, 2);
}

// Logits whose softmax is `probs`.
std::vector<float> LogitsOf(std::vector<double> probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

int32_t Drawn(const std::vector<float>& logits, TokenDraw draw) {
  return ChooseToken(logits.data(), static_cast<int64_t>(logits.size()), nullptr, 0, &draw, 0)
      .token;
}

TEST(TokenChoiceTest, DrawWalksIdOrderWithoutTopKOrTopP) {
  const std::vector<float> logits = LogitsOf({0.2, 0.5, 0.3});
  EXPECT_EQ(Drawn(logits, {.u = 0.0}), 0);
  EXPECT_EQ(Drawn(logits, {.u = 0.19}), 0);
  EXPECT_EQ(Drawn(logits, {.u = 0.21}), 1);  // cumulative 0.2, 0.7, 1.0
  EXPECT_EQ(Drawn(logits, {.u = 0.69}), 1);
  EXPECT_EQ(Drawn(logits, {.u = 0.71}), 2);
  EXPECT_EQ(Drawn(logits, {.u = 0.999999}), 2);
}

TEST(TokenChoiceTest, DrawWalksMostLikelyFirstUnderTopK) {
  const std::vector<float> logits = LogitsOf({0.2, 0.5, 0.3});
  // Top-2 keeps 1 and 2, renormalized to 0.625 and 0.375, most likely first.
  EXPECT_EQ(Drawn(logits, {.top_k = 2, .u = 0.62}), 1);
  EXPECT_EQ(Drawn(logits, {.top_k = 2, .u = 0.63}), 2);
  EXPECT_EQ(Drawn(logits, {.top_k = 1, .u = 0.99}), 1);
  // k beyond the vocabulary keeps everything, still most likely first: 1, 2, 0.
  EXPECT_EQ(Drawn(logits, {.top_k = 10, .u = 0.49}), 1);
  EXPECT_EQ(Drawn(logits, {.top_k = 10, .u = 0.81}), 0);
}

TEST(TokenChoiceTest, TopPKeepsTheShortestPrefixHoldingItsMass) {
  const std::vector<float> logits = LogitsOf({0.2, 0.5, 0.3});
  // 0.5 < 0.6, so 0.5 + 0.3 is kept: u = 0.7 of 0.8 passes 0.5 (0.625 of it).
  EXPECT_EQ(Drawn(logits, {.top_p = 0.6f, .u = 0.7}), 2);
  EXPECT_EQ(Drawn(logits, {.top_p = 0.6f, .u = 0.999}), 2);   // token 0 is cut
  EXPECT_EQ(Drawn(logits, {.top_p = 0.45f, .u = 0.999}), 1);  // 0.5 holds 0.45 alone
}

TEST(TokenChoiceTest, MinPDropsUnlikelyTokensAndKeepsIdOrder) {
  const std::vector<float> logits = LogitsOf({0.2, 0.5, 0.3});
  // Threshold 0.5 * 0.5 = 0.25 drops token 0; 1 then 2 in id order, 0.625 and 0.375.
  EXPECT_EQ(Drawn(logits, {.min_p = 0.5f, .u = 0.0}), 1);
  EXPECT_EQ(Drawn(logits, {.min_p = 0.5f, .u = 0.62}), 1);
  EXPECT_EQ(Drawn(logits, {.min_p = 0.5f, .u = 0.63}), 2);
}

TEST(TokenChoiceTest, TemperatureDividesTheAdjustedLogits) {
  // exp(ln 4 / 2) = 2: probabilities 1/3 and 2/3.
  const std::vector<float> logits = {0.0f, std::log(4.0f)};
  EXPECT_EQ(Drawn(logits, {.temperature = 2, .u = 0.33}), 0);
  EXPECT_EQ(Drawn(logits, {.temperature = 2, .u = 0.34}), 1);
  // A bias of -ln 4 makes them equal before the temperature: 1/2 each.
  const std::vector<LogitAdjustment> bias = {{.token = 1, .bias = -std::log(4.0f)}};
  const TokenDraw draw = {.temperature = 2, .u = 0.49};
  const TokenChoice choice = ChooseToken(logits.data(), 2, bias.data(), 1, &draw, 0);
  EXPECT_EQ(choice.token, 0);
  EXPECT_EQ(choice.token_logit, 0.0f);
}

}  // namespace
}  // namespace tessera::cpu
