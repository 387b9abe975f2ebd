// The CUDA greedy choice against the CPU reference, over vocabularies of one slice, several and
// a real model's size, with ties across slices and adjustments that change the winner.
#if TESSERA_HAVE_CUDA

#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/greedy_choice.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// The log-normalizer is summed in fp32 on the GPU and in double on the CPU.
constexpr double kLogNormalizerTolerance = 1e-4;

GreedyChoice OnDevice(const std::vector<float>& logits,
                      const std::vector<LogitAdjustment>& adjustments, int n_top) {
  auto logits_device = test::ToDevice(logits);
  cuda::DeviceBuffer<LogitAdjustment> adjustments_device;
  if (!adjustments.empty()) EXPECT_EQ(adjustments_device.Upload(adjustments), cudaSuccess);
  cuda::DeviceBuffer<char> workspace;
  const int64_t vocab = static_cast<int64_t>(logits.size());
  EXPECT_EQ(workspace.Allocate(cuda::GreedyChoiceWorkspaceBytes(vocab)), cudaSuccess);
  cuda::DeviceBuffer<GreedyChoice> choice;
  EXPECT_EQ(choice.Allocate(1), cudaSuccess);
  EXPECT_EQ(cuda::ChooseGreedy(logits_device.data(), vocab, adjustments_device.data(),
                               static_cast<int64_t>(adjustments.size()), n_top, workspace.data(),
                               workspace.bytes(), choice.data(), nullptr),
            cudaSuccess);
  return test::ToHost(choice).front();
}

void ExpectSameChoice(const GreedyChoice& actual, const GreedyChoice& expected) {
  EXPECT_EQ(actual.token, expected.token);
  EXPECT_EQ(actual.token_logit, expected.token_logit);
  EXPECT_NEAR(actual.log_normalizer, expected.log_normalizer, kLogNormalizerTolerance);
  ASSERT_EQ(actual.n_top, expected.n_top);
  for (int r = 0; r < expected.n_top; ++r) {
    EXPECT_EQ(actual.top_tokens[r], expected.top_tokens[r]) << "rank " << r;
    EXPECT_EQ(actual.top_logits[r], expected.top_logits[r]) << "rank " << r;
  }
}

TEST(CudaGreedyChoiceTest, MatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  // One logit, part of a slice, several slices with a partial last one, Llama 3's and Qwen2's
  // vocabularies.
  for (const int64_t vocab : {int64_t{1}, int64_t{700}, int64_t{5000}, int64_t{128256},
                              int64_t{151936}}) {
    std::vector<float> logits = test::RandomFloats(vocab, 60);
    for (float& logit : logits) logit *= 10;
    for (const int n_top : {0, 1, 20, kMaxGreedyTopLogits}) {
      SCOPED_TRACE(testing::Message() << "vocab " << vocab << ", top " << n_top);
      const GreedyChoice expected = cpu::ChooseGreedy(logits.data(), vocab, nullptr, 0, n_top);
      ExpectSameChoice(OnDevice(logits, {}, n_top), expected);
    }
  }
}

TEST(CudaGreedyChoiceTest, TiesAcrossSlicesGoToTheLowerId) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  std::vector<float> logits(20000, 0.0f);
  for (const int64_t token : {19999, 9000, 4097, 3}) logits[token] = 7.0f;  // four equal maxima
  const GreedyChoice expected = cpu::ChooseGreedy(logits.data(), 20000, nullptr, 0, 6);
  EXPECT_EQ(expected.token, 3);
  ExpectSameChoice(OnDevice(logits, {}, 6), expected);
}

TEST(CudaGreedyChoiceTest, AdjustmentsChangeTheChoiceNotTheReportedLogits) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t vocab = 32000;
  std::vector<float> logits = test::RandomFloats(vocab, 61);
  const int32_t top = static_cast<int32_t>(
      cpu::ChooseGreedy(logits.data(), vocab, nullptr, 0, 0).token);
  std::vector<LogitAdjustment> adjustments = {
      {.token = top, .repetition_penalty = 1.3f, .subtract = 5.0f},  // the winner drops out
      {.token = 31999, .bias = 2.5f},                                // a new winner
      {.token = 17, .bias = -100.0f}};
  for (int32_t token = 100; token < 3000; token += 7) {  // many penalized tokens, as a prompt gives
    adjustments.push_back({.token = token, .repetition_penalty = 1.1f});
  }
  const GreedyChoice expected = cpu::ChooseGreedy(logits.data(), vocab, adjustments.data(),
                                                  static_cast<int64_t>(adjustments.size()), 5);
  EXPECT_EQ(expected.token, 31999);
  ExpectSameChoice(OnDevice(logits, adjustments, 5), expected);
}

TEST(CudaGreedyChoicePreconditionTest, RejectsBadArguments) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const auto choose = [](int64_t vocab, int n_top, size_t workspace_bytes) {
    return cuda::ChooseGreedy(nullptr, vocab, nullptr, 0, n_top, nullptr, workspace_bytes,
                              nullptr, nullptr);
  };
  EXPECT_EQ(choose(0, 1, 1 << 20), cudaErrorInvalidValue);
  EXPECT_EQ(choose(int64_t{1} << 21, 1, size_t{1} << 30), cudaErrorInvalidValue);
  EXPECT_EQ(choose(100, kMaxGreedyTopLogits + 1, 1 << 20), cudaErrorInvalidValue);
  EXPECT_EQ(choose(100, 1, 0), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
