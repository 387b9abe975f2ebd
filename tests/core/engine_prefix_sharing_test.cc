// Prefix sharing in the engine: requests whose prompts start with what an earlier request ran
// take its KV blocks instead of computing them (usage reports them as cached prompt tokens), and
// give exactly the tokens, text and log-probabilities of an engine that shares nothing, greedy or
// seeded, one after another or together; the pool's blocks all come back. A LongRoPE model, whose
// cached keys depend on more than their prefix, may not share.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/models/hf_directory.h"
#include "core/models/model.h"
#include "gtest/gtest.h"
#include "tests/core/engine_test_util.h"

namespace tessera {
namespace {

using testing::CollectingSink;
using testing::DefaultModelPath;
using testing::RunToEnd;

// On the CPU, whose batched pass computes each row as it would alone, so that equality is exact.
std::unique_ptr<Engine> LoadCpu(const std::string& path, bool share_prompt_prefixes) {
  EngineOptions options{.path = path, .device = "cpu"};
  options.share_prompt_prefixes = share_prompt_prefixes;
  auto engine = Engine::Load(options, [](LoadStage, int64_t, int64_t) {});
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

// A system prompt of over two blocks, as token ids.
std::vector<int32_t> SystemPrompt(const Tokenizer& tokenizer) {
  std::vector<int32_t> tokens = {*tokenizer.bos_id()};
  const std::vector<int32_t> text = tokenizer.Encode(
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
      "sun with her friends and her dog.");
  tokens.insert(tokens.end(), text.begin(), text.end());
  return tokens;
}

// The system prompt, then endings of 1 to 20 tokens; every other request sampled with a seed.
std::vector<GenerationRequest> RequestsAfter(const Tokenizer& tokenizer) {
  const std::vector<std::string> endings = {
      " One day", " Lily saw a big red ball in the park and she ran to get it.", " The dog",
      " She was happy.", " Then it started to rain and everyone ran home"};
  std::vector<GenerationRequest> requests;
  for (size_t i = 0; i < endings.size(); ++i) {
    std::vector<int32_t> prompt = SystemPrompt(tokenizer);
    const std::vector<int32_t> ending = tokenizer.Encode(endings[i]);
    prompt.insert(prompt.end(), ending.begin(), ending.end());
    GenerationRequest request;
    request.prompt = std::move(prompt);
    request.stop.max_tokens = 20 + static_cast<int32_t>(i) * 3;
    request.sampling.top_logprobs = 2;
    request.sampling.temperature = i % 2 == 0 ? 0.0f : 0.8f;
    request.sampling.seed = 77 + i;
    requests.push_back(std::move(request));
  }
  return requests;
}

// Of a prompt of `prompt_tokens` that starts with the system prompt, the tokens a sharing
// engine takes from blocks filed earlier: the system prompt's whole blocks, short of the prompt's
// last token.
int32_t ExpectedCachedTokens(size_t system_tokens, int32_t prompt_tokens) {
  const int64_t shareable = std::min<int64_t>(system_tokens, prompt_tokens - 1);
  return static_cast<int32_t>(shareable / kKvBlockTokens * kKvBlockTokens);
}

class EnginePrefixSharingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unshared_engine_ = LoadCpu(DefaultModelPath(), false);
    engine_ = LoadCpu(DefaultModelPath(), true);
    ASSERT_NE(unshared_engine_, nullptr);
    ASSERT_NE(engine_, nullptr);
    system_tokens_ = SystemPrompt(engine_->tokenizer()).size();
    ASSERT_GT(system_tokens_, 2 * static_cast<size_t>(kKvBlockTokens));
    for (GenerationRequest& request : RequestsAfter(engine_->tokenizer())) {
      unshared_.push_back(RunToEnd(*unshared_engine_, std::move(request)));
      ASSERT_TRUE(unshared_.back()->run_status.ok()) << unshared_.back()->run_status;
      EXPECT_EQ(unshared_.back()->outputs.back().cached_prompt_tokens, 0);
    }
  }

  std::unique_ptr<Engine> unshared_engine_, engine_;
  size_t system_tokens_ = 0;
  std::vector<std::unique_ptr<CollectingSink>> unshared_;  // each request alone, sharing nothing
};

TEST_F(EnginePrefixSharingTest, LaterRequestsShareAndGiveTheSameTokens) {
  EXPECT_TRUE(engine_->shares_prompt_prefixes());
  EXPECT_FALSE(unshared_engine_->shares_prompt_prefixes());
  std::vector<GenerationRequest> requests = RequestsAfter(engine_->tokenizer());
  for (size_t i = 0; i < requests.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "request " << i);
    auto shared = RunToEnd(*engine_, std::move(requests[i]));
    testing::ExpectSameGeneration(*shared, *unshared_[i]);
    const StepOutput& last = shared->outputs.back();
    EXPECT_EQ(last.cached_prompt_tokens,
              i == 0 ? 0 : ExpectedCachedTokens(system_tokens_, last.prompt_tokens));
  }
  EXPECT_EQ(engine_->kv_cache_free_tokens(), engine_->kv_cache_capacity_tokens());
  EXPECT_GT(engine_->kv_cache_idle_prefix_tokens(), 0);
}

TEST_F(EnginePrefixSharingTest, RequestsRunTogetherShareWhatAnEarlierOneFiled) {
  GenerationRequest system_only;
  system_only.prompt = SystemPrompt(engine_->tokenizer());
  system_only.stop.max_tokens = 1;
  ASSERT_TRUE(RunToEnd(*engine_, std::move(system_only))->run_status.ok());

  std::vector<GenerationRequest> requests = RequestsAfter(engine_->tokenizer());
  std::vector<std::unique_ptr<CollectingSink>> sinks;
  for (GenerationRequest& request : requests) {
    auto sequence = engine_->CreateSequence(std::move(request));
    ASSERT_TRUE(sequence.ok()) << sequence.status();
    sinks.push_back(std::make_unique<CollectingSink>());
    ASSERT_TRUE(engine_->Run(*sequence, RunOptions{}, sinks.back().get()).ok());
  }
  for (size_t i = 0; i < sinks.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "request " << i);
    sinks[i]->run_status = sinks[i]->Wait();
    testing::ExpectSameGeneration(*sinks[i], *unshared_[i]);
    const StepOutput& last = sinks[i]->outputs.back();
    EXPECT_EQ(last.cached_prompt_tokens, ExpectedCachedTokens(system_tokens_, last.prompt_tokens));
  }
  EXPECT_EQ(engine_->kv_cache_free_tokens(), engine_->kv_cache_capacity_tokens());
}

// The engine shares prefixes only where ModelInfo::prefix_determines_kv.
TEST(EnginePrefixSharingLongRopeTest, LongRopeModelsMayNotShare) {
  for (const auto& [family, may_share] :
       {std::pair<std::string, bool>{"phi3_longrope", false}, {"phi3", true}, {"llama3", true}}) {
    auto file = OpenHfDirectory(std::string(TESSERA_TEST_DATA_DIR) + "/hf_tiny/" + family,
                                /*require_tokenizer=*/false);
    ASSERT_TRUE(file.ok()) << file.status();
    auto model = BuildModelFromGguf(**file);
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ((*model)->info().prefix_determines_kv, may_share) << family;
  }
}

}  // namespace
}  // namespace tessera
