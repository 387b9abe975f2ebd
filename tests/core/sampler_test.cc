#include "core/engine/sampler.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::Pointwise;

SamplingParams Greedy() {
  SamplingParams params;
  params.temperature = 0;
  return params;
}

// Logits whose softmax is exactly `probs`.
std::vector<float> LogitsFor(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

// Samples once from a fresh sampler (empty prompt) per seed 0..n-1; returns how often each
// token came up.
std::map<int32_t, int> CountOverSeeds(SamplingParams params, const std::vector<float>& logits,
                                      int n) {
  std::map<int32_t, int> counts;
  for (int seed = 0; seed < n; ++seed) {
    params.seed = seed;
    Sampler sampler(params, logits.size(), {});
    std::vector<float> scratch = logits;
    ++counts[sampler.Sample(scratch).token];
  }
  return counts;
}

std::set<int32_t> Keys(const std::map<int32_t, int>& counts) {
  std::set<int32_t> keys;
  for (const auto& [token, count] : counts) keys.insert(token);
  return keys;
}

std::vector<int32_t> Draws(SamplingParams params, int vocab_size, int n) {
  Sampler sampler(params, vocab_size, {});
  std::vector<int32_t> tokens;
  for (int i = 0; i < n; ++i) {
    std::vector<float> logits(vocab_size, 0.0f);
    tokens.push_back(sampler.Sample(logits).token);
  }
  return tokens;
}

TEST(SamplerTest, GreedyPicksArgmax) {
  Sampler sampler(Greedy(), 4, {});
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f};
  EXPECT_EQ(sampler.Sample(logits).token, 1);
}

TEST(SamplerTest, GreedyBreaksTiesTowardLowerId) {
  Sampler sampler(Greedy(), 4, {});
  std::vector<float> logits = {2.0f, 5.0f, 5.0f, 1.0f};
  EXPECT_EQ(sampler.Sample(logits).token, 1);
}

TEST(SamplerTest, LogitBiasChangesArgmax) {
  SamplingParams params = Greedy();
  params.logit_bias = {{2, 1.5f}, {0, -0.5f}};
  Sampler sampler(params, 4, {});
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f};
  EXPECT_EQ(sampler.Sample(logits).token, 2);
  EXPECT_THAT(logits, Pointwise(FloatEq(), {0.5f, 3.0f, 3.5f, 0.5f}));
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams params = Greedy();
  params.repetition_penalty = 2.0f;
  const std::vector<int32_t> prompt = {0, 0, 1};  // a repeated token is penalized once
  Sampler sampler(params, 4, prompt);
  sampler.Accept(2);  // output tokens count too
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 1.5f};
  // 2 / 2, -1 * 2, 0.5 / 2, untouched.
  EXPECT_EQ(sampler.Sample(logits).token, 3);
  EXPECT_THAT(logits, Pointwise(FloatEq(), {1.0f, -2.0f, 0.25f, 1.5f}));
}

TEST(SamplerTest, PresencePenaltySubtractsOnceFromOutputTokens) {
  SamplingParams params = Greedy();
  params.presence_penalty = 0.5f;
  const std::vector<int32_t> prompt = {3};  // the prompt does not count
  Sampler sampler(params, 4, prompt);
  for (int32_t token : {1, 1, 2}) sampler.Accept(token);
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 1.0f};
  sampler.Sample(logits);
  EXPECT_THAT(logits, Pointwise(FloatEq(), {2.0f, -1.5f, 0.0f, 1.0f}));
}

TEST(SamplerTest, FrequencyPenaltySubtractsPerOccurrenceInOutput) {
  SamplingParams params = Greedy();
  params.frequency_penalty = 0.25f;
  const std::vector<int32_t> prompt = {3};
  Sampler sampler(params, 4, prompt);
  for (int32_t token : {1, 1, 2}) sampler.Accept(token);
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 1.0f};
  sampler.Sample(logits);
  // -1 - 2 * 0.25, 0.5 - 1 * 0.25.
  EXPECT_THAT(logits, Pointwise(FloatEq(), {2.0f, -1.5f, 0.25f, 1.0f}));
}

TEST(SamplerTest, BiasComesBeforePenaltiesAndPenaltiesCombine) {
  SamplingParams params = Greedy();
  params.logit_bias = {{1, 2.0f}};
  params.repetition_penalty = 2.0f;
  params.presence_penalty = 0.5f;
  params.frequency_penalty = 0.25f;
  const std::vector<int32_t> prompt = {1};
  Sampler sampler(params, 4, prompt);
  for (int32_t token : {0, 2, 2}) sampler.Accept(token);
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 1.0f};
  // token 0: 2 / 2 - 0.5 - 1 * 0.25 = 0.25
  // token 1: (-1 + 2) / 2 = 0.5 (penalizing before the bias would give -1 * 2 + 2 = 0)
  // token 2: 0.5 / 2 - 0.5 - 2 * 0.25 = -0.75
  EXPECT_EQ(sampler.Sample(logits).token, 3);
  EXPECT_THAT(logits, Pointwise(FloatEq(), {0.25f, 0.5f, -0.75f, 1.0f}));
}

TEST(SamplerTest, PenaltiesFollowAcceptedTokens) {
  SamplingParams params = Greedy();
  params.presence_penalty = 1.0f;
  Sampler sampler(params, 3, {});
  std::vector<int32_t> tokens;
  for (int step = 0; step < 3; ++step) {
    std::vector<float> logits = {1.0f, 0.8f, 0.6f};
    tokens.push_back(sampler.Sample(logits).token);
    sampler.Accept(tokens.back());
  }
  // Each pick drops below the others once it has appeared.
  EXPECT_THAT(tokens, ElementsAre(0, 1, 2));
}

TEST(SamplerTest, TopKOfOneIsGreedyAtAnyTemperature) {
  std::mt19937 make_logits(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(50);
  for (float& logit : logits) logit = normal(make_logits);
  int32_t argmax = 0;
  for (int32_t token = 1; token < 50; ++token) {
    if (logits[token] > logits[argmax]) argmax = token;
  }

  for (float temperature : {0.1f, 1.0f, 5.0f, 100.0f}) {
    SamplingParams params;
    params.temperature = temperature;
    params.top_k = 1;
    const std::map<int32_t, int> counts = CountOverSeeds(params, logits, 50);
    EXPECT_THAT(Keys(counts), ElementsAre(argmax)) << "temperature " << temperature;
  }
}

TEST(SamplerTest, TopKKeepsExactlyKOnTiesPreferringLowerIds) {
  SamplingParams params;
  params.top_k = 2;
  const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 3.0f, 0.0f};
  EXPECT_THAT(Keys(CountOverSeeds(params, logits, 400)), ElementsAre(1, 2));
}

TEST(SamplerTest, TopPKeepsSmallestPrefixReachingMass) {
  // Most likely first: token 1 (0.5), 3 (0.25), 2 (0.15), 0 (0.1).
  const std::vector<float> logits = LogitsFor({0.1, 0.5, 0.15, 0.25});
  const std::map<float, std::set<int32_t>> kept_by_top_p = {
      {0.4f, {1}},           // 0.5 >= 0.4
      {0.7f, {1, 3}},        // 0.5 < 0.7 <= 0.75
      {0.85f, {1, 2, 3}},    // 0.75 < 0.85 <= 0.9
      {1.0f, {0, 1, 2, 3}},
  };
  for (const auto& [top_p, kept] : kept_by_top_p) {
    SamplingParams params;
    params.top_p = top_p;
    EXPECT_EQ(Keys(CountOverSeeds(params, logits, 400)), kept) << "top_p " << top_p;
  }
}

TEST(SamplerTest, TopPStopsAtThePrefixThatReachesMassExactly) {
  SamplingParams params;
  params.top_p = 0.5f;  // four tokens of exactly 0.25: the first two reach 0.5
  const std::vector<float> logits(4, 0.0f);
  EXPECT_THAT(Keys(CountOverSeeds(params, logits, 400)), ElementsAre(0, 1));
}

TEST(SamplerTest, TopPKeepsAnExactShareOfALargeUniformVocabulary) {
  // 1024 tokens of exactly 2^-10: top_p = 320 / 1024 keeps 320 of them, the lower ids on the tie.
  SamplingParams params;
  params.top_p = 0.3125f;
  params.seed = 11;
  std::set<int32_t> drawn;
  for (int32_t token : Draws(params, 1024, 8000)) drawn.insert(token);
  // Each kept token is expected 25 times, so all of them show up.
  EXPECT_EQ(drawn.size(), 320u);
  EXPECT_EQ(*drawn.begin(), 0);
  EXPECT_EQ(*drawn.rbegin(), 319);
}

TEST(SamplerTest, TopPAppliesToTheTopKSurvivors) {
  SamplingParams params;
  params.top_k = 2;     // keeps tokens 1 and 3, renormalized to 2/3 and 1/3
  params.top_p = 0.6f;  // 2/3 >= 0.6 (on the full distribution 0.5 < 0.6 would keep token 3 too)
  const std::vector<float> logits = LogitsFor({0.1, 0.5, 0.15, 0.25});
  EXPECT_THAT(Keys(CountOverSeeds(params, logits, 400)), ElementsAre(1));
}

TEST(SamplerTest, MinPDropsTokensBelowFractionOfMostLikely) {
  const std::vector<float> logits = LogitsFor({0.1, 0.5, 0.15, 0.25});
  const std::map<float, std::set<int32_t>> kept_by_min_p = {
      {0.1f, {0, 1, 2, 3}},  // threshold 0.05
      {0.25f, {1, 2, 3}},    // threshold 0.125
      {0.4f, {1, 3}},        // threshold 0.2
      {0.6f, {1}},           // threshold 0.3
  };
  for (const auto& [min_p, kept] : kept_by_min_p) {
    SamplingParams params;
    params.min_p = min_p;
    EXPECT_EQ(Keys(CountOverSeeds(params, logits, 400)), kept) << "min_p " << min_p;
  }
}

TEST(SamplerTest, MinPAfterTopKKeepsWhatItKeepsOnTheFullDistribution) {
  SamplingParams params;
  params.top_k = 3;     // tokens 1, 3, 2
  params.min_p = 0.35f;  // 0.15 / 0.5 = 0.3 is dropped, 0.25 / 0.5 = 0.5 stays
  const std::vector<float> logits = LogitsFor({0.1, 0.5, 0.15, 0.25});
  EXPECT_THAT(Keys(CountOverSeeds(params, logits, 400)), ElementsAre(1, 3));
}

TEST(SamplerTest, SameSeedGivesSameTokens) {
  SamplingParams params;
  params.seed = 7;
  EXPECT_EQ(Draws(params, 16, 64), Draws(params, 16, 64));
}

TEST(SamplerTest, DifferentSeedsGiveDifferentTokens) {
  // 64 draws from 16 equally likely tokens agree by chance with probability 16^-64.
  SamplingParams params;
  params.seed = 7;
  const std::vector<int32_t> first = Draws(params, 16, 64);
  params.seed = 8;
  EXPECT_NE(first, Draws(params, 16, 64));
  params.seed.reset();  // seeded from std::random_device
  EXPECT_NE(Draws(params, 16, 64), Draws(params, 16, 64));
}

TEST(SamplerTest, DrawUsesTop53BitsOfMt19937_64) {
  // With 4 equally likely tokens in id order the documented inverse CDF picks floor(4 u).
  SamplingParams params;
  params.seed = 42;
  std::mt19937_64 generator(42);
  std::vector<int32_t> expected;
  for (int i = 0; i < 100; ++i) {
    const double u = static_cast<double>(generator() >> 11) / 9007199254740992.0;  // 2^53
    expected.push_back(static_cast<int32_t>(u * 4));
  }
  EXPECT_EQ(Draws(params, 4, 100), expected);
}

TEST(SamplerTest, FrequenciesMatchTemperedSoftmax) {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
  constexpr int kDraws = 20000;
  for (float temperature : {0.7f, 1.6f}) {
    std::vector<double> expected_probs;
    double sum = 0;
    for (float logit : logits) {
      expected_probs.push_back(std::exp(static_cast<double>(logit) / temperature));
      sum += expected_probs.back();
    }

    SamplingParams params;
    params.temperature = temperature;
    params.seed = 1234;
    Sampler sampler(params, logits.size(), {});
    std::vector<int> counts(logits.size());
    for (int i = 0; i < kDraws; ++i) {
      std::vector<float> scratch = logits;
      ++counts[sampler.Sample(scratch).token];
    }

    // Pearson's chi-square with 4 degrees of freedom; 18.47 is its 99.9th percentile.
    double chi_square = 0;
    for (size_t token = 0; token < logits.size(); ++token) {
      const double expected = kDraws * expected_probs[token] / sum;
      chi_square += (counts[token] - expected) * (counts[token] - expected) / expected;
    }
    EXPECT_LT(chi_square, 18.47) << "temperature " << temperature;
  }
}

TEST(SamplerTest, LogprobsAreLogSoftmaxOfRawLogits) {
  // log(e + e^2 + e^3 + e^4) = 4.4401897.
  const std::vector<float> raw_logprobs = {-3.4401897f, -2.4401897f, -1.4401897f, -0.4401897f};

  SamplingParams params = Greedy();
  params.logit_bias = {{0, 10.0f}};  // chosen, yet reported with the model's own probability
  params.top_logprobs = 4;
  Sampler greedy(params, 4, {});
  std::vector<float> logits = {1.0f, 2.0f, 3.0f, 4.0f};
  const SampledToken sampled = greedy.Sample(logits);
  EXPECT_EQ(sampled.token, 0);
  EXPECT_NEAR(sampled.logprob, raw_logprobs[0], 1e-5);
  ASSERT_EQ(sampled.top.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(sampled.top[i].token, 3 - i);
    EXPECT_NEAR(sampled.top[i].logprob, raw_logprobs[3 - i], 1e-5);
  }

  params.temperature = 2.0f;
  params.logit_bias = {{1, -1.0f}};
  params.repetition_penalty = 1.5f;
  params.seed = 5;
  const std::vector<int32_t> prompt = {3};
  Sampler sampler(params, 4, prompt);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> scratch = {1.0f, 2.0f, 3.0f, 4.0f};
    const SampledToken drawn = sampler.Sample(scratch);
    EXPECT_NEAR(drawn.logprob, raw_logprobs[drawn.token], 1e-5) << "token " << drawn.token;
    sampler.Accept(drawn.token);
  }
}

TEST(SamplerTest, TopLogprobsAreMostLikelyFirstWithTiesToLowerId) {
  SamplingParams params = Greedy();
  params.top_logprobs = 3;
  Sampler sampler(params, 5, {});
  std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f, 1.0f};
  const SampledToken sampled = sampler.Sample(logits);
  // log(e^0.5 + 2 e^2 + e^-1 + e) = 2.9710806.
  ASSERT_EQ(sampled.top.size(), 3u);
  EXPECT_EQ(sampled.top[0].token, 1);
  EXPECT_EQ(sampled.top[1].token, 2);
  EXPECT_EQ(sampled.top[2].token, 4);
  EXPECT_NEAR(sampled.top[0].logprob, -0.9710806, 1e-5);
  EXPECT_NEAR(sampled.top[1].logprob, -0.9710806, 1e-5);
  EXPECT_NEAR(sampled.top[2].logprob, -1.9710806, 1e-5);
}

TEST(SamplerTest, NoTopLogprobsUnlessAsked) {
  Sampler sampler(Greedy(), 3, {});
  std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  EXPECT_TRUE(sampler.Sample(logits).top.empty());
}

}  // namespace
}  // namespace tessera
