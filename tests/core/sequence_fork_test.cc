// Forked sequences: a sequence forked between runs, and the sequence it was forked from, each go
// on to generate exactly what the unforked sequence generates (greedy or seeded: the fork takes
// the sampler's state), sharing the KV cache until they write; a fork can take appended tokens
// of its own without touching the parent; finished sequences do not fork; the pool gets every
// block back.
#include <memory>
#include <vector>

#include "core/util/error_reason.h"
#include "gtest/gtest.h"
#include "tests/core/engine_test_util.h"

namespace tessera {
namespace {

using testing::CollectingSink;
using testing::DefaultModelPath;
using testing::RunToEnd;

constexpr int32_t kTokens = 30;
constexpr int32_t kStepsBeforeFork = 9;

// On the CPU, whose passes are exact whatever the batch, so tokens and logprobs compare equal.
std::unique_ptr<Engine> LoadCpu() {
  auto engine = Engine::Load({.path = DefaultModelPath(), .device = "cpu"},
                             [](LoadStage, int64_t, int64_t) {});
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

GenerationRequest Request(bool seeded) {
  GenerationRequest request;
  request.prompt = std::string("Once upon a time, there was a little dog named Max");
  request.stop.max_tokens = kTokens;
  request.stop.ignore_eos = true;
  request.sampling.temperature = seeded ? 0.9f : 0.0f;
  request.sampling.seed = 11;
  request.sampling.top_logprobs = 1;
  return request;
}

// Runs `steps` steps (0: to the end) of `sequence` and returns what they produced.
std::unique_ptr<CollectingSink> Steps(Engine& engine, std::shared_ptr<Sequence> sequence,
                                      int32_t steps, std::vector<int32_t> append = {}) {
  auto sink = std::make_unique<CollectingSink>();
  const absl::Status started =
      engine.Run(std::move(sequence),
                 RunOptions{.max_steps = steps, .append_tokens = std::move(append)}, sink.get());
  EXPECT_TRUE(started.ok()) << started;
  sink->run_status = started.ok() ? sink->Wait() : started;
  return sink;
}

class SequenceForkTest : public ::testing::TestWithParam<bool> {};

TEST_P(SequenceForkTest, ForkAndParentBothGoOnAsTheUnforkedSequence) {
  std::unique_ptr<Engine> engine = LoadCpu();
  ASSERT_NE(engine, nullptr);
  const auto unforked = RunToEnd(*engine, Request(GetParam()));
  ASSERT_TRUE(unforked->run_status.ok()) << unforked->run_status;
  const std::vector<int32_t> all = unforked->Tokens();
  const std::vector<float> all_logprobs = unforked->Logprobs();
  ASSERT_EQ(all.size(), static_cast<size_t>(kTokens));
  const int64_t free_before = engine->kv_cache_free_tokens();

  auto parent = engine->CreateSequence(Request(GetParam()));
  ASSERT_TRUE(parent.ok()) << parent.status();
  const auto before = Steps(*engine, *parent, kStepsBeforeFork);
  ASSERT_TRUE(before->run_status.ok());
  auto forked = (*parent)->Fork();
  ASSERT_TRUE(forked.ok()) << forked.status();
  std::shared_ptr<Sequence> child = *std::move(forked);
  EXPECT_EQ(child->completion_tokens(), kStepsBeforeFork);

  const std::vector<int32_t> rest(all.begin() + kStepsBeforeFork, all.end());
  const std::vector<float> rest_logprobs(all_logprobs.begin() + kStepsBeforeFork,
                                         all_logprobs.end());
  // The child first, so that it writes into the shared block and takes the copy.
  for (const std::shared_ptr<Sequence>& sequence : {child, *parent}) {
    const auto after = Steps(*engine, sequence, 0);
    ASSERT_TRUE(after->run_status.ok()) << after->run_status;
    EXPECT_EQ(after->Tokens(), rest);
    EXPECT_EQ(after->Logprobs(), rest_logprobs);
    EXPECT_EQ(after->finish_reason(), FinishReason::kLength);
  }
  EXPECT_EQ(child->Fork().status().code(), absl::StatusCode::kFailedPrecondition);
  child.reset();
  parent->reset();
  EXPECT_EQ(engine->kv_cache_free_tokens(), free_before);
}

INSTANTIATE_TEST_SUITE_P(GreedyAndSeeded, SequenceForkTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Seeded" : "Greedy";
                         });

// A fork that appends tokens of its own continues as a sequence fed those tokens would, and the
// parent as if nothing happened.
TEST(SequenceForkAppendTest, ForkTakesItsOwnAppendedTokens) {
  std::unique_ptr<Engine> engine = LoadCpu();
  ASSERT_NE(engine, nullptr);
  const std::vector<int32_t> appended = {300, 301, 302};
  // The reference: one sequence, appended to after the same steps.
  auto reference = engine->CreateSequence(Request(false));
  ASSERT_TRUE(reference.ok());
  ASSERT_TRUE(Steps(*engine, *reference, kStepsBeforeFork)->run_status.ok());
  const auto expected = Steps(*engine, *reference, 5, appended);
  ASSERT_TRUE(expected->run_status.ok());
  const auto unforked = RunToEnd(*engine, Request(false));

  auto parent = engine->CreateSequence(Request(false));
  ASSERT_TRUE(parent.ok());
  ASSERT_TRUE(Steps(*engine, *parent, kStepsBeforeFork)->run_status.ok());
  std::shared_ptr<Sequence> child = (*parent)->Fork().value();
  const auto child_steps = Steps(*engine, child, 5, appended);
  EXPECT_EQ(child_steps->Tokens(), expected->Tokens());
  const auto parent_steps = Steps(*engine, *parent, 0);
  const std::vector<int32_t> all = unforked->Tokens();
  EXPECT_EQ(parent_steps->Tokens(),
            std::vector<int32_t>(all.begin() + kStepsBeforeFork, all.end()));
}

}  // namespace
}  // namespace tessera
