// A batched pass (Model::ForwardBatchAndChoose) gives each sequence exactly what a pass over that
// sequence alone gives: the CPU backend computes every row of a projection as the same dot
// product whatever the other rows are, so the results must agree bit for bit. The sequences are
// the three reference prompts of each tiny family (tests/data/hf_tiny; 4, 24 and 48 tokens),
// prefilled in chunks beside each other's decoding, as the engine's scheduler mixes them.
#include <memory>
#include <string>
#include <vector>

#include "core/engine/kv_cache.h"
#include "core/models/hf_directory.h"
#include "core/models/model.h"
#include "gtest/gtest.h"
#include "tests/core/chunked_batch_util.h"

namespace tessera {
namespace {

constexpr int kDecodeSteps = 6;

void ExpectSameChoice(const TokenChoice& batched, const TokenChoice& alone) {
  EXPECT_EQ(batched.token, alone.token);
  EXPECT_EQ(batched.token_logit, alone.token_logit);
  EXPECT_EQ(batched.log_normalizer, alone.log_normalizer);
  ASSERT_EQ(batched.n_top, alone.n_top);
  for (int i = 0; i < alone.n_top; ++i) {
    EXPECT_EQ(batched.top_tokens[i], alone.top_tokens[i]);
    EXPECT_EQ(batched.top_logits[i], alone.top_logits[i]);
  }
}

// Greedy choices (with the largest logits, to compare them) after the prompt, then after each of
// kDecodeSteps greedy tokens, one pass each.
std::vector<TokenChoice> DecodeAlone(const Model& model, KvCachePool& pool,
                                     const std::vector<int32_t>& prompt) {
  auto cache = pool.Allocate(static_cast<int64_t>(prompt.size()) + kDecodeSteps);
  EXPECT_TRUE(cache.ok()) << cache.status();
  std::vector<TokenChoice> choices;
  std::vector<int32_t> feed = prompt;
  for (int step = 0; step <= kDecodeSteps; ++step) {
    auto choice = model.ForwardAndChoose(feed, **cache, {}, nullptr, kMaxChoiceTopLogits);
    EXPECT_TRUE(choice.ok()) << choice.status();
    choices.push_back(*choice);
    feed = {choice->token};
  }
  return choices;
}

class BatchedForwardTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchedForwardTest, EachSequenceGetsWhatItGetsAlone) {
  auto file = OpenHfDirectory(std::string(TESSERA_TEST_DATA_DIR) + "/hf_tiny/" + GetParam(),
                              /*require_tokenizer=*/false);
  ASSERT_TRUE(file.ok()) << file.status();
  auto built = BuildModelFromGguf(**file);
  ASSERT_TRUE(built.ok()) << built.status();
  const Model& model = **built;
  const std::unique_ptr<KvCachePool> pool = KvCachePool::Create(model.info().kv_shape, 512).value();
  const std::vector<std::vector<int32_t>> prompts = testing::HfTinyReferencePrompts(GetParam());
  ASSERT_EQ(prompts.size(), 3u);

  std::vector<std::vector<TokenChoice>> alone;
  for (const std::vector<int32_t>& prompt : prompts) {
    alone.push_back(DecodeAlone(model, *pool, prompt));
  }

  // Chunks of at most 10: the first prompt is 4 tokens, so it decodes while the others are
  // still prefilling; the 48-token prompt passes phi3_longrope's switch (32) mid-prompt.
  const std::vector<std::vector<TokenChoice>> batched =
      testing::RunChunkedBatch(model, *pool, prompts, 10, kDecodeSteps, testing::GreedyNext);
  ASSERT_EQ(batched.size(), prompts.size());
  for (size_t s = 0; s < prompts.size(); ++s) {
    SCOPED_TRACE(::testing::Message() << "prompt of " << prompts[s].size() << " tokens");
    ASSERT_EQ(batched[s].size(), alone[s].size());
    for (size_t step = 0; step < alone[s].size(); ++step) {
      SCOPED_TRACE(::testing::Message() << "choice " << step);
      ExpectSameChoice(batched[s][step], alone[s][step]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, BatchedForwardTest,
                         ::testing::Values("llama3", "qwen2", "qwen3", "mistral", "phi3",
                                           "phi3_longrope"));

}  // namespace
}  // namespace tessera
