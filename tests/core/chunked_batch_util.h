// Drives a model's batched pass (Model::ForwardBatchAndChoose) as the engine's scheduler mixes
// sequences: each prompt in chunks of at most `chunk` tokens, a short prompt decoding while longer
// ones are still prefilling, every sequence in the same passes.
#pragma once

#include <algorithm>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/engine/kv_cache.h"
#include "core/models/model.h"
#include "gtest/gtest.h"

namespace tessera::testing {

// The prompts of a tiny family's reference.json (tests/data/hf_tiny; 4, 24 and 48 tokens).
inline std::vector<std::vector<int32_t>> HfTinyReferencePrompts(const std::string& family) {
  std::ifstream file(std::string(TESSERA_TEST_DATA_DIR) + "/hf_tiny/" + family + "/reference.json");
  const nlohmann::json reference = nlohmann::json::parse(file);
  std::vector<std::vector<int32_t>> prompts;
  for (const nlohmann::json& prompt : reference.at("prompts")) {
    prompts.push_back(prompt.at("tokens").get<std::vector<int32_t>>());
  }
  return prompts;
}

// The token fed to sequence `sequence` after its `step`-th choice (0: the one after its prompt).
using NextToken = std::function<int32_t(size_t sequence, size_t step, const TokenChoice& choice)>;

// Each sequence's choices (with the kMaxChoiceTopLogits largest logits): after its prompt, then
// after each of `decode_steps` tokens that `next` picks. Caches come from `pool`.
inline std::vector<std::vector<TokenChoice>> RunChunkedBatch(
    const Model& model, KvCachePool& pool, const std::vector<std::vector<int32_t>>& prompts,
    size_t chunk, size_t decode_steps, const NextToken& next) {
  struct Sequence {
    std::unique_ptr<KvCache> cache;
    std::vector<int32_t> pending;  // not yet fed
    std::vector<TokenChoice> choices;
  };
  std::vector<Sequence> sequences;
  for (const std::vector<int32_t>& prompt : prompts) {
    auto cache = pool.Allocate(static_cast<int64_t>(prompt.size() + decode_steps));
    EXPECT_TRUE(cache.ok()) << cache.status();
    if (!cache.ok()) return {};
    sequences.push_back({*std::move(cache), prompt, {}});
  }
  for (;;) {
    std::vector<SequenceChunk> chunks;
    std::vector<size_t> in_pass;
    std::vector<std::vector<int32_t>> fed;
    fed.reserve(sequences.size());  // the chunks view these
    for (size_t i = 0; i < sequences.size(); ++i) {
      Sequence& sequence = sequences[i];
      if (sequence.choices.size() == decode_steps + 1) continue;
      const size_t take = std::min(chunk, sequence.pending.size());
      fed.emplace_back(sequence.pending.begin(), sequence.pending.begin() + take);
      sequence.pending.erase(sequence.pending.begin(), sequence.pending.begin() + take);
      chunks.push_back({fed.back(), sequence.cache.get()});
      in_pass.push_back(i);
    }
    if (chunks.empty()) break;
    const std::vector<ChoiceSpec> specs(chunks.size(), ChoiceSpec{.n_top = kMaxChoiceTopLogits});
    int meanwhile_runs = 0;
    auto chosen = model.ForwardBatchAndChoose(chunks, specs, [&] { ++meanwhile_runs; });
    EXPECT_TRUE(chosen.ok()) << chosen.status();
    EXPECT_EQ(meanwhile_runs, 1) << "the host work beside a pass runs once a pass";
    if (!chosen.ok() || chosen->size() != chunks.size()) return {};
    for (size_t c = 0; c < in_pass.size(); ++c) {
      Sequence& sequence = sequences[in_pass[c]];
      if (!sequence.pending.empty()) continue;  // mid-prompt: the choice is not wanted
      sequence.choices.push_back((*chosen)[c]);
      sequence.pending = {next(in_pass[c], sequence.choices.size() - 1, (*chosen)[c])};
    }
  }
  std::vector<std::vector<TokenChoice>> choices;
  for (Sequence& sequence : sequences) choices.push_back(std::move(sequence.choices));
  return choices;
}

// Feeds each sequence its own greedy choice.
inline int32_t GreedyNext(size_t, size_t, const TokenChoice& choice) { return choice.token; }

}  // namespace tessera::testing
