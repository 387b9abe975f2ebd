// Continuous batching: generations that share the engine's steps (decoding tokens beside prompt
// chunks cut to max_batch_tokens) give exactly the tokens and log-probabilities each gives
// alone, greedy or seeded sampling, and leave the KV-cache pool as they found it.
#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/engine_test_util.h"

namespace tessera {
namespace {

using testing::CollectingSink;
using testing::DefaultModelPath;
using testing::RunToEnd;

// Holds its run until the test opens every gate at once, so the runs start in the same step.
class GatedSink : public CollectingSink {
 public:
  explicit GatedSink(const std::atomic<bool>& open) : open_(open) {}
  bool ReadyForMore() override { return open_.load(); }

 private:
  const std::atomic<bool>& open_;
};

// On the CPU, whose batched pass computes each row as it would alone, so that equality is exact.
// (On a GPU a batch's rows go through GEMMs rather than one token's GEMVs, and agree with the
// CPU within tolerance: cuda_transformer_test.cc.)
std::unique_ptr<Engine> LoadWithBatchTokens(int32_t max_batch_tokens) {
  EngineOptions options{
      .path = DefaultModelPath(), .device = "cpu", .max_batch_tokens = max_batch_tokens};
  auto engine = Engine::Load(options, [](LoadStage, int64_t, int64_t) {});
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

// Prompts from 2 to over 40 tokens; every other one sampled with its own seed.
std::vector<GenerationRequest> MixedRequests() {
  const std::vector<std::string> prompts = {
      "Once upon a time",
      "Lily",
      "The little dog ran to the park because he wanted to play with the ball that his friend "
      "had left near the big tree by the pond",
      "One day, Tom and his mom went to the store to buy some food.",
      "The sun was",
      "Sam had a red car. He liked to drive it fast. One day the car stopped and Sam was sad",
  };
  std::vector<GenerationRequest> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationRequest request;
    request.prompt = prompts[i];
    request.stop.max_tokens = 24 + static_cast<int32_t>(i) * 5;
    request.sampling.top_logprobs = 2;
    if (i % 2 == 0) {
      request.sampling.temperature = 0;
    } else {
      request.sampling.temperature = 0.9f;
      request.sampling.top_p = 0.95f;
      request.sampling.repetition_penalty = 1.1f;
      request.sampling.seed = 1000 + i;
    }
    requests.push_back(std::move(request));
  }
  return requests;
}

// Sinks for MixedRequests(), given the gate they wait on, each request's index and sequence.
using SinkMaker = std::function<std::unique_ptr<GatedSink>(
    const std::atomic<bool>& open, size_t index, std::shared_ptr<Sequence> sequence)>;

// Starts every request of MixedRequests() on `engine` behind one gate, opens it so that they
// share the engine's steps from the first, and returns their sinks once every run has ended.
std::vector<std::unique_ptr<GatedSink>> RunTogether(Engine& engine, const SinkMaker& make_sink) {
  std::atomic<bool> open{false};
  std::vector<std::unique_ptr<GatedSink>> sinks;
  std::vector<GenerationRequest> requests = MixedRequests();
  for (size_t i = 0; i < requests.size(); ++i) {
    auto sequence = engine.CreateSequence(std::move(requests[i]));
    EXPECT_TRUE(sequence.ok()) << sequence.status();
    if (!sequence.ok()) break;
    sinks.push_back(make_sink(open, i, *sequence));
    const absl::Status started = engine.Run(*sequence, RunOptions{}, sinks.back().get());
    EXPECT_TRUE(started.ok()) << started;
    if (!started.ok()) {
      sinks.pop_back();
      break;
    }
  }
  open = true;
  engine.Wake();
  for (auto& sink : sinks) sink->run_status = sink->Wait();
  return sinks;
}

class EngineBatchingTest : public ::testing::TestWithParam<int32_t> {};

TEST_P(EngineBatchingTest, ConcurrentRunsGiveWhatEachGivesAlone) {
  // Alone: one run at a time, each prompt in a single pass.
  std::unique_ptr<Engine> solo = LoadWithBatchTokens(kDefaultMaxBatchTokens);
  ASSERT_NE(solo, nullptr);
  std::vector<std::unique_ptr<CollectingSink>> alone;
  for (GenerationRequest& request : MixedRequests()) {
    alone.push_back(RunToEnd(*solo, std::move(request)));
    ASSERT_TRUE(alone.back()->run_status.ok()) << alone.back()->run_status;
  }

  std::unique_ptr<Engine> engine = LoadWithBatchTokens(GetParam());
  ASSERT_NE(engine, nullptr);
  const int64_t free_before = engine->kv_cache_free_tokens();
  const std::vector<std::unique_ptr<GatedSink>> sinks =
      RunTogether(*engine, [](const std::atomic<bool>& open, size_t, std::shared_ptr<Sequence>) {
        return std::make_unique<GatedSink>(open);
      });
  ASSERT_EQ(sinks.size(), alone.size());
  for (size_t i = 0; i < sinks.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "request " << i);
    testing::ExpectSameGeneration(*sinks[i], *alone[i]);
  }
  EXPECT_EQ(engine->kv_cache_free_tokens(), free_before);
}

// 1: one token a step (a prompt fed a token at a time beside the decoding runs); 7: prompts
// cut into uneven chunks; the default: every prompt whole in the first step.
INSTANTIATE_TEST_SUITE_P(MaxBatchTokens, EngineBatchingTest,
                         ::testing::Values(1, 7, kDefaultMaxBatchTokens));

// Records the engine step in which its run's first token came (steps counted from the engine's
// start; nothing runs before the gate opens).
class FirstTokenStepSink : public GatedSink {
 public:
  FirstTokenStepSink(const std::atomic<bool>& open, const Engine& engine)
      : GatedSink(open), engine_(engine) {}
  void OnStep(StepOutput output) override {
    if (outputs.empty()) first_token_step = engine_.counters().steps;
    GatedSink::OnStep(std::move(output));
  }
  int64_t first_token_step = 0;

 private:
  const Engine& engine_;
};

// Prompts longer than the step's token budget, started together, are prefilled first come first
// served: the first gets the whole budget until its prompt is done, so its first token comes in
// step ceil(prompt / budget) and the second's after it. (Taken in turns, the prompts all finished
// in the same step, as late as the last, and began decoding together.)
TEST(EngineBatchingOrderTest, PromptsArePrefilledFirstComeFirstServed) {
  constexpr int32_t kBudget = 4;
  std::unique_ptr<Engine> engine = LoadWithBatchTokens(kBudget);
  ASSERT_NE(engine, nullptr);
  std::atomic<bool> open{false};
  std::vector<int64_t> prompt_tokens;
  std::vector<std::unique_ptr<FirstTokenStepSink>> sinks;
  for (const char* prompt : {"The little dog ran to the park because he wanted to play",
                             "Sam had a red car. He liked to drive it fast every day"}) {
    GenerationRequest request;
    request.prompt = prompt;
    request.stop.max_tokens = 2;
    request.sampling.temperature = 0;
    auto sequence = engine->CreateSequence(std::move(request));
    ASSERT_TRUE(sequence.ok()) << sequence.status();
    prompt_tokens.push_back(static_cast<int64_t>((*sequence)->unseen_tokens().size()));
    sinks.push_back(std::make_unique<FirstTokenStepSink>(open, *engine));
    ASSERT_TRUE(engine->Run(*sequence, RunOptions{}, sinks.back().get()).ok());
  }
  const int64_t first_prompt = prompt_tokens[0];
  ASSERT_GT(first_prompt, 2 * kBudget);
  open = true;
  engine->Wake();
  for (auto& sink : sinks) ASSERT_TRUE(sink->Wait().ok());
  EXPECT_EQ(sinks[0]->first_token_step, (first_prompt + kBudget - 1) / kBudget);
  EXPECT_GT(sinks[1]->first_token_step, sinks[0]->first_token_step);
}

// Cancels its own sequence once it has `after` steps, from the engine's thread, as a client's
// cancellation lands between two steps.
class CancellingSink : public GatedSink {
 public:
  CancellingSink(const std::atomic<bool>& open, std::shared_ptr<Sequence> sequence, size_t after)
      : GatedSink(open), sequence_(std::move(sequence)), after_(after) {}
  void OnStep(StepOutput output) override {
    GatedSink::OnStep(std::move(output));
    if (outputs.size() == after_) sequence_->Cancel();
  }

 private:
  std::shared_ptr<Sequence> sequence_;
  size_t after_;
};

TEST(EngineBatchingCancelTest, CancellingOneRunMidwayLeavesTheOthersUnchanged) {
  std::unique_ptr<Engine> engine = LoadWithBatchTokens(7);
  ASSERT_NE(engine, nullptr);
  std::vector<std::unique_ptr<CollectingSink>> alone;
  for (GenerationRequest& request : MixedRequests()) {
    alone.push_back(RunToEnd(*engine, std::move(request)));
  }
  const int64_t free_before = engine->kv_cache_free_tokens();
  constexpr size_t kCancelled = 2;
  constexpr size_t kStepsBeforeCancel = 5;
  const std::vector<std::unique_ptr<GatedSink>> sinks = RunTogether(
      *engine,
      [&](const std::atomic<bool>& open, size_t index,
          std::shared_ptr<Sequence> sequence) -> std::unique_ptr<GatedSink> {
        if (index == kCancelled) {
          return std::make_unique<CancellingSink>(open, std::move(sequence), kStepsBeforeCancel);
        }
        return std::make_unique<GatedSink>(open);
      });
  ASSERT_EQ(sinks.size(), alone.size());
  for (size_t i = 0; i < sinks.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "request " << i);
    if (i != kCancelled) {
      testing::ExpectSameGeneration(*sinks[i], *alone[i]);
      continue;
    }
    EXPECT_TRUE(sinks[i]->run_status.ok()) << sinks[i]->run_status;
    EXPECT_EQ(sinks[i]->finish_reason(), FinishReason::kCancelled);
    // The sink hears of a step while the next one computes, so a cancel made as it hears of
    // step kStepsBeforeCancel ends the run at that step or the one after.
    const std::vector<int32_t> tokens = sinks[i]->Tokens();
    EXPECT_GE(tokens.size(), kStepsBeforeCancel);
    EXPECT_LE(tokens.size(), kStepsBeforeCancel + 1);
    std::vector<int32_t> expected = alone[i]->Tokens();
    expected.resize(std::min(tokens.size(), expected.size()));
    EXPECT_EQ(tokens, expected);
  }
  EXPECT_EQ(engine->kv_cache_free_tokens(), free_before);
}

}  // namespace
}  // namespace tessera
