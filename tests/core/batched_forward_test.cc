// A batched pass (Model::ForwardBatchAndChoose) gives each sequence exactly what a pass over that
// sequence alone gives: the CPU backend computes every row of a projection as the same dot
// product whatever the other rows are, so the results must agree bit for bit. The sequences are
// the three reference prompts of each tiny family (tests/data/hf_tiny; 4, 24 and 48 tokens),
// prefilled in chunks beside each other's decoding, as the engine's scheduler mixes them.
#include <algorithm>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/engine/kv_cache.h"
#include "core/models/hf_directory.h"
#include "core/models/model.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

constexpr int kDecodeSteps = 6;

std::vector<std::vector<int32_t>> ReferencePrompts(const std::string& family) {
  std::ifstream file(std::string(TESSERA_TEST_DATA_DIR) + "/hf_tiny/" + family + "/reference.json");
  const nlohmann::json reference = nlohmann::json::parse(file);
  std::vector<std::vector<int32_t>> prompts;
  for (const nlohmann::json& prompt : reference.at("prompts")) {
    prompts.push_back(prompt.at("tokens").get<std::vector<int32_t>>());
  }
  return prompts;
}

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
  KvCachePool pool(model.info().kv_shape, 512);
  const std::vector<std::vector<int32_t>> prompts = ReferencePrompts(GetParam());
  ASSERT_EQ(prompts.size(), 3u);

  std::vector<std::vector<TokenChoice>> alone;
  for (const std::vector<int32_t>& prompt : prompts) {
    alone.push_back(DecodeAlone(model, pool, prompt));
  }

  // Each sequence's prompt in chunks of at most 10 (the first prompt is 4 tokens, so it decodes
  // while the others are still prefilling); a chunk that ends its prompt, and every decode
  // step, yields a choice. The 48-token prompt passes phi3_longrope's switch (32) mid-prompt.
  struct Stream {
    std::unique_ptr<KvCache> cache;
    std::vector<int32_t> pending;  // not yet fed
    std::vector<TokenChoice> choices;
  };
  std::vector<Stream> streams;
  for (const std::vector<int32_t>& prompt : prompts) {
    auto cache = pool.Allocate(static_cast<int64_t>(prompt.size()) + kDecodeSteps);
    ASSERT_TRUE(cache.ok()) << cache.status();
    streams.push_back({*std::move(cache), prompt, {}});
  }
  constexpr size_t kChunk = 10;
  for (;;) {
    std::vector<SequenceChunk> chunks;
    std::vector<Stream*> in_batch;
    std::vector<std::vector<int32_t>> fed;
    fed.reserve(streams.size());
    for (Stream& stream : streams) {
      if (stream.choices.size() == kDecodeSteps + 1) continue;
      const size_t take = std::min(kChunk, stream.pending.size());
      fed.emplace_back(stream.pending.begin(), stream.pending.begin() + take);
      stream.pending.erase(stream.pending.begin(), stream.pending.begin() + take);
      chunks.push_back({fed.back(), stream.cache.get()});
      in_batch.push_back(&stream);
    }
    if (chunks.empty()) break;
    const std::vector<ChoiceSpec> specs(chunks.size(), ChoiceSpec{.n_top = kMaxChoiceTopLogits});
    auto chosen = model.ForwardBatchAndChoose(chunks, specs);
    ASSERT_TRUE(chosen.ok()) << chosen.status();
    ASSERT_EQ(chosen->size(), chunks.size());
    for (size_t i = 0; i < in_batch.size(); ++i) {
      if (!in_batch[i]->pending.empty()) continue;  // mid-prompt: the choice is not wanted
      in_batch[i]->choices.push_back((*chosen)[i]);
      in_batch[i]->pending = {(*chosen)[i].token};
    }
  }
  for (size_t s = 0; s < streams.size(); ++s) {
    SCOPED_TRACE(::testing::Message() << "prompt of " << prompts[s].size() << " tokens");
    ASSERT_EQ(streams[s].choices.size(), alone[s].size());
    for (size_t step = 0; step < alone[s].size(); ++step) {
      SCOPED_TRACE(::testing::Message() << "choice " << step);
      ExpectSameChoice(streams[s].choices[step], alone[s][step]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, BatchedForwardTest,
                         ::testing::Values("llama3", "qwen2", "qwen3", "mistral", "phi3",
                                           "phi3_longrope"));

}  // namespace
}  // namespace tessera
