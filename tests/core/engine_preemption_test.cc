// Admission by priority and preemption: a sequence reserves only what its next step needs, so
// runs share a small KV cache; when it runs out, the run served last (lowest priority, latest)
// gives its cache up and recomputes its context once readmitted. Every run must still give
// the tokens and text it gives alone, with its logprobs (exactly on the CPU, to rounding on a GPU),
// and every block must come back.
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/sequence.h"
#include "core/models/cuda_backend.h"
#include "gtest/gtest.h"
#include "tests/core/engine_test_util.h"

namespace tessera {
namespace {

using testing::CollectingSink;
using testing::GreedyRequest;
using testing::LoadDefaultModel;
using testing::RunToEnd;

constexpr int32_t kBos = 1;
// 7 blocks of 16 tokens.
constexpr int64_t kSmallKvCache = 100;

std::unique_ptr<Engine> LoadOnCpu(int64_t kv_cache_capacity_tokens = 0) {
  return LoadDefaultModel(kv_cache_capacity_tokens, "cpu");
}

// `n` tokens of output after a two-token prompt that differs by `i`, so that runs share no
// blocks; seeded sampling when `sampled`.
GenerationRequest Request(int i, int32_t n, bool sampled, Priority priority = Priority::kNormal) {
  GenerationRequest request = GreedyRequest({kBos, 300 + i}, n);
  request.stop.ignore_eos = true;
  request.priority = priority;
  if (sampled) {
    request.sampling.temperature = 1.0f;
    request.sampling.seed = 1000 + i;
  }
  return request;
}

struct Started {
  std::shared_ptr<Sequence> sequence;
  std::unique_ptr<CollectingSink> sink;
};

Started Start(Engine& engine, GenerationRequest request) {
  Started started{*engine.CreateSequence(std::move(request)), std::make_unique<CollectingSink>()};
  EXPECT_TRUE(engine.Run(started.sequence, RunOptions{}, started.sink.get()).ok());
  return started;
}

struct PreemptionCase {
  const char* name;
  const char* device;
  bool sampled;
  // How far a run's log-probabilities may stray from its solo run's; 0: not at all.
  float logprob_tolerance;
};

class EnginePreemptionTest : public ::testing::TestWithParam<PreemptionCase> {};

TEST_P(EnginePreemptionTest, PreemptedRunsGiveTheTokensTheyGiveAlone) {
  const PreemptionCase& c = GetParam();
  if (std::string_view(c.device) == "cuda" && CudaDeviceCount() == 0) {
    GTEST_SKIP() << "no CUDA device";
  }
  constexpr int kRuns = 3;
  constexpr int32_t kTokens = 60;  // 62 positions: 4 blocks each, 12 for all three
  std::unique_ptr<Engine> alone = LoadDefaultModel(0, c.device);
  std::unique_ptr<Engine> engine = LoadDefaultModel(kSmallKvCache, c.device);
  ASSERT_NE(alone, nullptr);
  ASSERT_NE(engine, nullptr);
  std::vector<Started> runs;
  for (int i = 0; i < kRuns; ++i) runs.push_back(Start(*engine, Request(i, kTokens, c.sampled)));
  int32_t preemptions = 0;
  for (int i = 0; i < kRuns; ++i) {
    SCOPED_TRACE(::testing::Message() << "run " << i);
    CollectingSink& actual = *runs[i].sink;
    ASSERT_TRUE(actual.Wait().ok());
    const std::unique_ptr<CollectingSink> expected =
        RunToEnd(*alone, Request(i, kTokens, c.sampled));
    EXPECT_EQ(actual.Tokens(), expected->Tokens());
    EXPECT_EQ(actual.Text(), expected->Text());
    EXPECT_EQ(actual.finish_reason(), expected->finish_reason());
    const std::vector<float> logprobs = actual.Logprobs();
    const std::vector<float> expected_logprobs = expected->Logprobs();
    ASSERT_EQ(logprobs.size(), expected_logprobs.size());
    for (size_t t = 0; t < logprobs.size(); ++t) {
      EXPECT_NEAR(logprobs[t], expected_logprobs[t], c.logprob_tolerance) << "token " << t;
    }
    EXPECT_EQ(actual.Tokens().size(), static_cast<size_t>(kTokens));
    preemptions += runs[i].sequence->preemptions();
  }
  EXPECT_GT(preemptions, 0) << "the cache was large enough for all: nothing was tested";
  runs.clear();
  EXPECT_EQ(engine->kv_cache_free_tokens(), engine->kv_cache_capacity_tokens());
}

// On the CPU a context recomputed in one pass gives the logits its token-by-token steps gave, bit
// for bit. On the GPU it goes through the prefill kernels, which sum in another order than the
// decode steps did: log-probabilities then agree to rounding, and the greedy tokens of this model
// stay the same (a seeded draw may fall on the other side of a token's boundary, so only greedy
// runs are compared there).
INSTANTIATE_TEST_SUITE_P(Devices, EnginePreemptionTest,
                         ::testing::Values(PreemptionCase{"CpuGreedy", "cpu", false, 0},
                                           PreemptionCase{"CpuSeeded", "cpu", true, 0},
                                           PreemptionCase{"CudaGreedy", "cuda", false, 1e-3f}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(EnginePriorityTest, LowPriorityRunsArePreemptedFirst) {
  std::unique_ptr<Engine> alone = LoadOnCpu();
  std::unique_ptr<Engine> engine = LoadOnCpu(kSmallKvCache);
  ASSERT_NE(alone, nullptr);
  ASSERT_NE(engine, nullptr);
  // Together they outgrow the cache (8 blocks of 7); the low one came first but gives way.
  Started low = Start(*engine, Request(0, 60, false, Priority::kLow));
  Started normal = Start(*engine, Request(1, 60, false));
  ASSERT_TRUE(low.sink->Wait().ok());
  ASSERT_TRUE(normal.sink->Wait().ok());
  EXPECT_GT(low.sequence->preemptions(), 0);
  EXPECT_EQ(normal.sequence->preemptions(), 0);
  testing::ExpectSameGeneration(*low.sink, *RunToEnd(*alone, Request(0, 60, false)));
  testing::ExpectSameGeneration(*normal.sink, *RunToEnd(*alone, Request(1, 60, false)));
}

// Records the order in which runs produced their first output.
class OrderSink : public CollectingSink {
 public:
  explicit OrderSink(std::atomic<int>& counter) : counter_(counter) {}
  void OnStep(StepOutput output) override {
    if (outputs.empty()) first_output = counter_++;
    CollectingSink::OnStep(std::move(output));
  }
  int first_output = -1;

 private:
  std::atomic<int>& counter_;
};

TEST(EnginePriorityTest, WaitingRunsAreAdmittedByPriorityThenArrival) {
  std::unique_ptr<Engine> engine = LoadOnCpu(kSmallKvCache);
  ASSERT_NE(engine, nullptr);
  // A sequence holding every block, then runs that each need 6 of the 7: one at a time.
  std::vector<int32_t> all_blocks(100, 300);
  all_blocks[0] = kBos;
  std::shared_ptr<Sequence> holder = *engine->CreateSequence(GreedyRequest(all_blocks, 5));
  ASSERT_EQ(engine->kv_cache_free_tokens(), 0);
  const Priority priorities[] = {Priority::kLow, Priority::kNormal, Priority::kHigh,
                                 Priority::kNormal};
  std::atomic<int> counter{0};
  std::vector<std::shared_ptr<Sequence>> sequences;
  std::vector<std::unique_ptr<OrderSink>> sinks;
  for (const Priority priority : priorities) {
    std::vector<int32_t> prompt(90, 301);
    prompt[0] = kBos;
    GenerationRequest request = GreedyRequest(prompt, 5);
    request.priority = priority;
    sequences.push_back(*engine->CreateSequence(std::move(request)));
    sinks.push_back(std::make_unique<OrderSink>(counter));
    ASSERT_TRUE(engine->Run(sequences.back(), RunOptions{}, sinks.back().get()).ok());
  }
  holder.reset();
  for (const auto& sink : sinks) ASSERT_TRUE(sink->Wait().ok());
  // High, then the two normal ones in arrival order, then low.
  EXPECT_EQ(sinks[2]->first_output, 0);
  EXPECT_EQ(sinks[1]->first_output, 1);
  EXPECT_EQ(sinks[3]->first_output, 2);
  EXPECT_EQ(sinks[0]->first_output, 3);
}

}  // namespace
}  // namespace tessera
