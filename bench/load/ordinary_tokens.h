// What a run needs to know of the model before it starts: its vocabulary size and context
// length (GetModel), and the token ids prompts are drawn from.
//
// Random ids from the whole vocabulary would include control tokens (BOS, EOS, chat markers),
// which the contract does not list and a prompt rarely holds. So the ids are the ones a round
// trip leaves: a draw of random ids across the vocabulary is detokenized (control tokens decode
// to nothing) and the text tokenized again as plain text (special tokens written in it encode
// as ordinary pieces, and no BOS is added). What comes back are ids the tokenizer itself
// produces for text, ordinary tokens; prompts draw from them uniformly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::load {

struct ModelFacts {
  int32_t vocab_size = 0;
  int32_t context_length = 0;
  // The ordinary token ids, each once, sorted.
  std::vector<int32_t> ordinary_tokens;
};

// GetModel, Detokenize and Tokenize on `model`; a failed call's status (NOT_FOUND for an unknown
// model) comes back with the call named. `seed` fixes the ids drawn.
absl::StatusOr<ModelFacts> ReadModelFacts(inference::v1::InferenceService::Stub& stub,
                                          const std::string& model, uint64_t seed,
                                          std::optional<absl::Duration> timeout);

}  // namespace tessera::load
