// The CUDA token choice against the CPU reference, over vocabularies of one slice, several and
// a real model's size: greedy, with ties across slices and adjustments that change the winner;
// and draws under every combination of temperature, top-k, top-p and min-p.
#if TESSERA_HAVE_CUDA

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/token_choice.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// The log-normalizer is summed in fp32 on the GPU and in double on the CPU.
constexpr double kLogNormalizerTolerance = 1e-4;

TokenChoice OnDevice(const std::vector<float>& logits,
                     const std::vector<LogitAdjustment>& adjustments, int n_top,
                     const TokenDraw* draw = nullptr) {
  auto logits_device = test::ToDevice(logits);
  cuda::DeviceBuffer<LogitAdjustment> adjustments_device;
  if (!adjustments.empty()) {
    EXPECT_EQ(adjustments_device.Upload(adjustments), cudaSuccess);
  }
  cuda::DeviceBuffer<char> workspace;
  const int64_t vocab = static_cast<int64_t>(logits.size());
  EXPECT_EQ(workspace.AllocateZeroed(cuda::TokenChoiceWorkspaceBytes(vocab), nullptr), cudaSuccess);
  cuda::DeviceBuffer<TokenChoice> choice;
  EXPECT_EQ(choice.Allocate(1), cudaSuccess);
  // Twice on one workspace: the first call must leave it ready for the second (its counter at
  // zero), as the engine's every step does.
  std::vector<TokenChoice> chosen;
  for (int call = 0; call < 2; ++call) {
    EXPECT_EQ(cuda::ChooseToken(logits_device.data(), vocab, adjustments_device.data(),
                                static_cast<int64_t>(adjustments.size()), draw, n_top,
                                workspace.data(), workspace.bytes(), choice.data(), nullptr),
              cudaSuccess);
    chosen.push_back(test::ToHost(choice).front());
  }
  EXPECT_EQ(std::memcmp(&chosen[0], &chosen[1], sizeof(TokenChoice)), 0) << "the second call";
  return chosen[1];
}

void ExpectSameChoice(const TokenChoice& actual, const TokenChoice& expected) {
  EXPECT_EQ(actual.token, expected.token);
  EXPECT_EQ(actual.token_logit, expected.token_logit);
  EXPECT_NEAR(actual.log_normalizer, expected.log_normalizer, kLogNormalizerTolerance);
  ASSERT_EQ(actual.n_top, expected.n_top);
  for (int r = 0; r < expected.n_top; ++r) {
    EXPECT_EQ(actual.top_tokens[r], expected.top_tokens[r]) << "rank " << r;
    EXPECT_EQ(actual.top_logits[r], expected.top_logits[r]) << "rank " << r;
  }
}

TEST(CudaTokenChoiceTest, MatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  // One logit, part of a slice, several slices with a partial last one, Llama 3's and Qwen2's
  // vocabularies.
  for (const int64_t vocab : {int64_t{1}, int64_t{700}, int64_t{5000}, int64_t{128256},
                              int64_t{151936}}) {
    std::vector<float> logits = test::RandomFloats(vocab, 60);
    for (float& logit : logits) logit *= 10;
    for (const int n_top : {0, 1, 20, kMaxChoiceTopLogits}) {
      SCOPED_TRACE(testing::Message() << "vocab " << vocab << ", top " << n_top);
      const TokenChoice expected =
          cpu::ChooseToken(logits.data(), vocab, nullptr, 0, nullptr, n_top);
      ExpectSameChoice(OnDevice(logits, {}, n_top), expected);
    }
  }
}

// A batch's rows, each with its own logits, chosen in one pass: each row as alone. Batches of
// every size share one workspace, as the engine's do: each call must leave the counters it used at
// zero, and its partials must not reach another size's counters.
TEST(CudaTokenChoiceTest, GreedyTokensOfABatchMatchCpuRowByRow) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  constexpr int64_t kMostRows = 129;
  for (const int64_t vocab : {int64_t{1}, int64_t{5000}, int64_t{128256}}) {
    cuda::DeviceBuffer<char> workspace;
    ASSERT_EQ(workspace.AllocateZeroed(cuda::GreedyTokensWorkspaceBytes(kMostRows, vocab), nullptr),
              cudaSuccess);
    for (const int64_t rows : {kMostRows, int64_t{2}, int64_t{64}, int64_t{2}}) {
      SCOPED_TRACE(testing::Message() << "vocab " << vocab << ", rows " << rows);
      std::vector<float> logits = test::RandomFloats(rows * vocab, 61 + rows);
      for (float& logit : logits) logit *= 10;
      // A tie across slices in the last row, which must go to the lower id.
      if (vocab > 4096) logits[(rows - 1) * vocab + 3] = logits[(rows - 1) * vocab + 4095] = 99;
      constexpr int kTop = 7;
      auto logits_device = test::ToDevice(logits);
      cuda::DeviceBuffer<TokenChoice> choices;
      ASSERT_EQ(choices.Allocate(rows), cudaSuccess);
      ASSERT_EQ(cuda::ChooseGreedyTokens(logits_device.data(), rows, vocab, kTop, workspace.data(),
                                         workspace.bytes(), choices.data(), nullptr),
                cudaSuccess);
      const std::vector<TokenChoice> actual = test::ToHost(choices);
      for (int64_t r = 0; r < rows; ++r) {
        SCOPED_TRACE(testing::Message() << "row " << r);
        ExpectSameChoice(actual[r], cpu::ChooseToken(logits.data() + r * vocab, vocab, nullptr, 0,
                                                     nullptr, kTop));
      }
    }
  }
}

TEST(CudaTokenChoiceTest, TiesAcrossSlicesGoToTheLowerId) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  std::vector<float> logits(20000, 0.0f);
  for (const int64_t token : {19999, 9000, 4097, 3}) logits[token] = 7.0f;  // four equal maxima
  const TokenChoice expected = cpu::ChooseToken(logits.data(), 20000, nullptr, 0, nullptr, 6);
  EXPECT_EQ(expected.token, 3);
  ExpectSameChoice(OnDevice(logits, {}, 6), expected);
}

TEST(CudaTokenChoiceTest, AdjustmentsChangeTheChoiceNotTheReportedLogits) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t vocab = 32000;
  std::vector<float> logits = test::RandomFloats(vocab, 61);
  const int32_t top = static_cast<int32_t>(
      cpu::ChooseToken(logits.data(), vocab, nullptr, 0, nullptr, 0).token);
  std::vector<LogitAdjustment> adjustments = {
      {.token = top, .repetition_penalty = 1.3f, .subtract = 5.0f},  // the winner drops out
      {.token = 31999, .bias = 2.5f},                                // a new winner
      {.token = 17, .bias = -100.0f}};
  for (int32_t token = 100; token < 3000; token += 7) {  // many penalized tokens, as a prompt gives
    adjustments.push_back({.token = token, .repetition_penalty = 1.1f});
  }
  const TokenChoice expected = cpu::ChooseToken(logits.data(), vocab, adjustments.data(),
                                                static_cast<int64_t>(adjustments.size()),
                                                nullptr, 5);
  EXPECT_EQ(expected.token, 31999);
  ExpectSameChoice(OnDevice(logits, adjustments, 5), expected);
}

// The CPU's token for `draw`, or -1 when u is so near a boundary of the cumulative distribution
// that fp32 sums may land on the neighbouring token (a u 1e-5 either side draws another token).
int32_t CpuTokenAwayFromBoundaries(const std::vector<float>& logits,
                                   const std::vector<LogitAdjustment>& adjustments,
                                   TokenDraw draw) {
  const auto token = [&](double u) {
    draw.u = std::clamp(u, 0.0, 0.999999);
    return cpu::ChooseToken(logits.data(), static_cast<int64_t>(logits.size()),
                            adjustments.data(), static_cast<int64_t>(adjustments.size()), &draw,
                            0)
        .token;
  };
  const double u = draw.u;
  const int32_t expected = token(u);
  return token(u - 1e-5) == expected && token(u + 1e-5) == expected ? expected : -1;
}

TEST(CudaTokenChoiceTest, DrawsMatchCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const std::vector<TokenDraw> draws = {
      {.temperature = 1},
      {.temperature = 0.7f, .top_k = 40},
      {.temperature = 1.3f, .top_p = 0.9f},
      {.temperature = 0.8f, .top_k = 100, .top_p = 0.95f, .min_p = 0.05f},
      {.temperature = 1, .min_p = 0.1f},
      {.temperature = 2, .top_k = 1 << 20},  // k beyond the vocabulary: all, most likely first
      {.temperature = 0.5f, .top_p = 0.3f, .min_p = 0.5f},
  };
  int compared = 0, trials = 0;
  // Flat logits (uniform over 12 units: top-p's prefix is long) and peaked ones (cubed: a few
  // tokens far above the rest, as a model's usually are).
  for (const auto& [vocab, peaked] :
       {std::pair{int64_t{1}, false}, std::pair{int64_t{700}, false},
        std::pair{int64_t{9000}, false}, std::pair{int64_t{151936}, false},
        std::pair{int64_t{9000}, true}, std::pair{int64_t{151936}, true}}) {
    std::vector<float> logits = test::RandomFloats(vocab, 62);
    for (float& logit : logits) logit = peaked ? 12 * logit * logit * logit : 6 * logit;
    std::vector<LogitAdjustment> adjustments;
    if (vocab > 100) adjustments = {{.token = 7, .bias = 9.0f}, {.token = 50, .subtract = 1.0f}};
    for (const TokenDraw& base : draws) {
      for (const double u : {0.0, 0.05, 0.2, 0.37, 0.5, 0.61, 0.8, 0.93, 0.999, 0.999999}) {
        TokenDraw draw = base;
        draw.u = u;
        SCOPED_TRACE(testing::Message()
                     << "vocab " << vocab << (peaked ? " peaked" : " flat") << ", temperature "
                     << draw.temperature << ", top_k " << draw.top_k << ", top_p " << draw.top_p
                     << ", min_p " << draw.min_p << ", u " << u);
        ++trials;
        const int32_t expected = CpuTokenAwayFromBoundaries(logits, adjustments, draw);
        if (expected < 0) continue;
        ++compared;
        const TokenChoice actual = OnDevice(logits, adjustments, 3, &draw);
        EXPECT_EQ(actual.token, expected);
        EXPECT_EQ(actual.token_logit, logits[expected]);
        EXPECT_EQ(actual.n_top, std::min<int64_t>(3, vocab));  // the greedy pass's, untouched
      }
    }
  }
  // Most trials are compared; those skipped are mostly the flat 151,936-token vocabulary's id
  // order, where each token holds about 7e-6 of u.
  EXPECT_GE(compared, trials * 4 / 5);
}

TEST(CudaTokenChoiceTest, DrawsBreakTiesTowardTheLowerIdAsTheCpuDoes) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  std::vector<float> logits(20000, -20.0f);
  for (const int64_t token : {19999, 9000, 5}) logits[token] = 3.0f;
  // Top-2 keeps the two lowest ids of the three equal logits, half each.
  for (const auto& [u, token] : {std::pair{0.3, 5}, std::pair{0.7, 9000}}) {
    const TokenDraw draw = {.top_k = 2, .u = u};
    EXPECT_EQ(cpu::ChooseToken(logits.data(), 20000, nullptr, 0, &draw, 0).token, token);
    EXPECT_EQ(OnDevice(logits, {}, 0, &draw).token, token);
  }
  // -0 and +0 tie: the lower id wins whichever sign it has.
  logits[9000] = logits[19999] = logits[5] = -20.0f;
  logits[2] = -0.0f;
  logits[3] = 0.0f;
  const TokenDraw top_one = {.top_k = 1, .u = 0.5};
  EXPECT_EQ(cpu::ChooseToken(logits.data(), 20000, nullptr, 0, &top_one, 0).token, 2);
  EXPECT_EQ(OnDevice(logits, {}, 0, &top_one).token, 2);
}

TEST(CudaTokenChoicePreconditionTest, RejectsBadArguments) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const auto choose = [](int64_t vocab, int n_top, size_t workspace_bytes) {
    return cuda::ChooseToken(nullptr, vocab, nullptr, 0, nullptr, n_top, nullptr,
                             workspace_bytes, nullptr, nullptr);
  };
  EXPECT_EQ(choose(0, 1, 1 << 20), cudaErrorInvalidValue);
  EXPECT_EQ(choose(int64_t{1} << 21, 1, size_t{1} << 30), cudaErrorInvalidValue);
  EXPECT_EQ(choose(100, kMaxChoiceTopLogits + 1, 1 << 20), cudaErrorInvalidValue);
  EXPECT_EQ(choose(100, 1, 0), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
