// The CPU greedy choice on hand-computed cases: adjustments in the documented order, ties to the
// lower id, the log-normalizer and the unadjusted top list.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"

namespace tessera::cpu {
namespace {

TEST(GreedyChoiceTest, PicksTheLargestLogitAndItsLogNormalizer) {
  const std::vector<float> logits = {0.0f, 2.0f, std::log(3.0f), -1.0f};
  const GreedyChoice choice = ChooseGreedy(logits.data(), 4, nullptr, 0, 0);
  EXPECT_EQ(choice.token, 1);
  EXPECT_EQ(choice.token_logit, 2.0f);
  // log(e^0 + e^2 + 3 + e^-1)
  EXPECT_NEAR(choice.log_normalizer, std::log(1 + std::exp(2.0) + 3 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(choice.n_top, 0);
}

TEST(GreedyChoiceTest, TiesGoToTheLowerId) {
  const std::vector<float> logits = {1.0f, 5.0f, 5.0f, 5.0f};
  const GreedyChoice choice = ChooseGreedy(logits.data(), 4, nullptr, 0, 3);
  EXPECT_EQ(choice.token, 1);
  ASSERT_EQ(choice.n_top, 3);
  EXPECT_EQ(std::vector<int32_t>(choice.top_tokens, choice.top_tokens + 3),
            (std::vector<int32_t>{1, 2, 3}));
}

TEST(GreedyChoiceTest, AdjustsBeforeChoosingButReportsUnadjustedLogits) {
  const std::vector<float> logits = {4.0f, 3.0f, -2.0f, 1.0f};
  const std::vector<LogitAdjustment> adjustments = {
      {.token = 0, .repetition_penalty = 2.0f},                 // 4 / 2 = 2
      {.token = 2, .bias = 8.0f, .repetition_penalty = 2.0f},  // (-2 + 8) / 2 = 3, ties token 1
      {.token = 1, .subtract = 0.5f}};                         // 3 - 0.5 = 2.5
  const GreedyChoice choice = ChooseGreedy(logits.data(), 4, adjustments.data(), 3, 2);
  EXPECT_EQ(choice.token, 2);
  EXPECT_EQ(choice.token_logit, -2.0f);
  // The top list is of the model's own logits.
  ASSERT_EQ(choice.n_top, 2);
  EXPECT_EQ(choice.top_tokens[0], 0);
  EXPECT_EQ(choice.top_logits[0], 4.0f);
  EXPECT_EQ(choice.top_tokens[1], 1);
}

TEST(GreedyChoiceTest, NegativeLogitsAreMultipliedByTheRepetitionPenalty) {
  EXPECT_EQ(AdjustedLogit(-3.0f, {.repetition_penalty = 1.5f}), -4.5f);
  EXPECT_EQ(AdjustedLogit(3.0f, {.repetition_penalty = 1.5f}), 2.0f);
  EXPECT_EQ(AdjustedLogit(1.0f, {.bias = -2.0f, .repetition_penalty = 2.0f, .subtract = 1.0f}),
            -3.0f);  // (1 - 2) * 2 - 1
}

TEST(GreedyChoiceTest, TopListIsCappedByTheVocabulary) {
  const std::vector<float> logits = {1.0f, 2.0f};
  EXPECT_EQ(ChooseGreedy(logits.data(), 2, nullptr, 0, 5).n_top, 2);
}

}  // namespace
}  // namespace tessera::cpu
