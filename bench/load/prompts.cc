#include "bench/load/prompts.h"

#include <algorithm>

namespace tessera::load {

PromptMaker::PromptMaker(std::vector<int32_t> pool, int32_t shared_prefix_tokens, uint64_t seed)
    : pool_(std::move(pool)), rng_(seed) {
  shared_prefix_.resize(shared_prefix_tokens);
  for (int32_t& token : shared_prefix_) token = Draw();
}

std::vector<int32_t> PromptMaker::Make(int32_t length) {
  const int32_t shared = std::min<int32_t>(length, shared_prefix_.size());
  std::vector<int32_t> prompt(shared_prefix_.begin(), shared_prefix_.begin() + shared);
  prompt.reserve(length);
  while (static_cast<int32_t>(prompt.size()) < length) prompt.push_back(Draw());
  return prompt;
}

int32_t PromptMaker::Draw() {
  return pool_[std::uniform_int_distribution<size_t>(0, pool_.size() - 1)(rng_)];
}

}  // namespace tessera::load
