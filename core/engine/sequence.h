// Sequence: the state of one generation between steps: its tokens, KV cache, sampler, and the
// text not yet handed out (held back while it may still grow into a stop string or complete a
// UTF-8 character).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/generation.h"
#include "core/engine/kv_cache.h"
#include "core/engine/sampler.h"
#include "core/models/model.h"
#include "core/tokenizer/text_stream.h"
#include "core/tokenizer/tokenizer.h"

namespace tessera {

class Sequence {
 public:
  Sequence(std::vector<int32_t> prompt, SamplingParams sampling, StopCriteria stop,
           int32_t max_length, std::unique_ptr<KvCache> cache, const Tokenizer& tokenizer);

  // Thread-safe: the next step finishes the sequence with FinishReason::kCancelled.
  void Cancel() { cancelled_.store(true); }
  bool cancel_requested() const { return cancelled_.load(); }

  bool finished() const { return finish_reason_ != FinishReason::kNone; }
  FinishReason finish_reason() const { return finish_reason_; }
  int32_t prompt_tokens() const { return prompt_tokens_; }
  int32_t completion_tokens() const { return completion_tokens_; }

  // Tokens fed to the model after the last sampled one. INVALID_ARGUMENT if an id is outside
  // the vocabulary or (CONTEXT_LENGTH_EXCEEDED) there is no room left.
  absl::Status Append(std::span<const int32_t> tokens);

  // Feeds the model every token it has not yet seen, samples one, and applies the stop
  // criteria. On a cancelled sequence, returns the final output without running the model.
  absl::StatusOr<StepOutput> Step(const Model& model);

 private:
  // Appends `token`'s text and returns what can be released now.
  std::string ReleaseText(int32_t token);
  FinishReason CheckStop(int32_t token);
  StepOutput Finish(FinishReason reason, StepOutput output);

  const Tokenizer& tokenizer_;
  SamplingParams sampling_;
  StopCriteria stop_;
  int32_t max_length_;  // prompt + output may not exceed this (the KV capacity)
  std::unique_ptr<KvCache> cache_;
  Sampler sampler_;
  TextStream text_stream_;

  std::vector<int32_t> tokens_;  // everything in the context, fed or not
  int32_t prompt_tokens_;
  int32_t completion_tokens_ = 0;
  std::string held_text_;        // complete characters that may begin a stop string
  std::vector<float> logits_;
  FinishReason finish_reason_ = FinishReason::kNone;
  std::atomic<bool> cancelled_{false};
};

}  // namespace tessera
