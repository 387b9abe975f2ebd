// Prompts of exact lengths as token ids. Every prompt starts with the same shared prefix (so a
// server that reuses a cached prefix can), followed by tokens drawn for that prompt alone.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace tessera::load {

class PromptMaker {
 public:
  // Draws the tokens, the shared prefix first, uniformly from `pool` (not empty).
  PromptMaker(std::vector<int32_t> pool, int32_t shared_prefix_tokens, uint64_t seed);

  // `length` tokens: the shared prefix (cut to `length` when longer), then fresh tokens.
  std::vector<int32_t> Make(int32_t length);

  const std::vector<int32_t>& shared_prefix() const { return shared_prefix_; }

 private:
  int32_t Draw();

  std::vector<int32_t> pool_;
  std::mt19937_64 rng_;
  std::vector<int32_t> shared_prefix_;
};

}  // namespace tessera::load
