// The Generate requests of a run: a prompt of token ids whose length the prompt mix draws, and
// an output length the output mix draws, generated in full past any end-of-sequence token.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "bench/load/load_options.h"
#include "bench/load/prompts.h"
#include "tessera/inference/v1/inference.pb.h"

namespace tessera::load {

class RequestMaker {
 public:
  // `ordinary_tokens` (not empty): what prompts are made of (ordinary_tokens.h).
  RequestMaker(const LoadOptions& options, std::vector<int32_t> ordinary_tokens);

  inference::v1::GenerateRequest Next();

 private:
  const LoadOptions& options_;
  PromptMaker prompts_;
  std::mt19937_64 rng_;  // lengths and sampling seeds
};

}  // namespace tessera::load
