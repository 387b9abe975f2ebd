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
#include "core/tokenizer/text_stream.h"
#include "core/tokenizer/tokenizer.h"

namespace tessera {

class Sequence {
 public:
  // `end_of_generation_ids` (ascending, as EndOfGenerationIds gives them) end the sequence
  // unless stop.ignore_eos; like `tokenizer`, they must outlive it. `output_starts_text`: the
  // prompt holds no text (only BOS), so the output's first characters start a text (see
  // Tokenizer::Decode).
  // `kv_capacity`: the positions its KV cache may have to hold (the prompt and every token it
  // may generate); the cache itself comes with AttachKvCache, before the model first runs it.
  Sequence(std::vector<int32_t> prompt, SamplingParams sampling, StopCriteria stop,
           int64_t kv_capacity, Priority priority, const Tokenizer& tokenizer,
           std::span<const int32_t> end_of_generation_ids, bool output_starts_text);

  // Thread-safe: the next step finishes the sequence with FinishReason::kCancelled. Use
  // Engine::Cancel, which also wakes the engine if the run is waiting on flow control.
  void Cancel() { cancelled_.store(true); }
  bool cancel_requested() const { return cancelled_.load(); }

  bool finished() const { return finish_reason_ != FinishReason::kNone; }
  FinishReason finish_reason() const { return finish_reason_; }
  int32_t prompt_tokens() const { return prompt_tokens_; }
  // Everything in its context: the prompt, the tokens generated and appended so far.
  std::span<const int32_t> context() const { return tokens_; }
  int64_t kv_capacity() const { return max_length_; }
  Priority priority() const { return priority_; }
  // Whether it has its KV cache: admitted to run, rather than waiting for room in the pool.
  bool has_kv_cache() const { return cache_ != nullptr; }
  // `cache` may hold kv_capacity() positions, and possibly the context's first ones (shared).
  void AttachKvCache(std::unique_ptr<KvCache> cache) {
    if (preemptions_ == 0)
      cached_prompt_tokens_ = static_cast<int32_t>(cache->shared_prefix_tokens());
    cache_ = std::move(cache);
  }
  // Gives the KV cache back so that others may run; the sequence waits for a new one, and the
  // model then recomputes its context, going on as if nothing had happened.
  void Preempt() {
    cache_.reset();
    ++preemptions_;
  }
  int32_t preemptions() const { return preemptions_; }
  // Prompt tokens whose KV cache it shares with an earlier sequence, so never fed to the model.
  int32_t cached_prompt_tokens() const { return cached_prompt_tokens_; }
  int32_t completion_tokens() const { return completion_tokens_; }

  // Tokens fed to the model after the last sampled one. INVALID_ARGUMENT if an id is outside
  // the vocabulary or (CONTEXT_LENGTH_EXCEEDED) there is no room left.
  absl::Status Append(std::span<const int32_t> tokens);

  // The tokens the model has not yet seen: the whole prompt at first, then the last sampled
  // token and any appended ones. Never empty while the sequence has not finished.
  std::span<const int32_t> unseen_tokens() const {
    return std::span<const int32_t>(tokens_).subspan(static_cast<size_t>(cache_->length()));
  }
  // Where the model appends the keys and values of the tokens it is fed.
  KvCache& cache() { return *cache_; }

  // The inputs of the choice that follows the pass feeding the last unseen token. Call once per
  // such pass: it advances the seeded generator.
  Sampler::ChoiceInputs NextChoiceInputs() { return sampler_.NextChoiceInputs(); }
  // After the pass that fed every unseen token: `choice` becomes the next token, and the stop
  // criteria are applied.
  StepOutput AcceptChoice(const TokenChoice& choice);
  // The final output of a sequence whose cancellation was requested; the model does not run.
  StepOutput FinishCancelled();

  // A copy of this sequence, as it stands between runs, that goes on independently: the same
  // tokens, sampler state (so the same seeded draws) and text held back, its KV cache a fork of
  // this one's (KvCachePool::Fork). FAILED_PRECONDITION (SESSION_FINISHED) once finished,
  // (SESSION_BUSY) while it waits for its KV cache; errors as KvCachePool::Fork.
  absl::StatusOr<std::unique_ptr<Sequence>> Fork() const;

 private:
  Sequence(const Sequence& parent, std::unique_ptr<KvCache> cache);
  // The finish reason `token` (just sampled) causes, if any, before looking at stop strings.
  FinishReason FinishReasonAfter(int32_t token) const;
  // Adds `token`'s text to the held text and moves what can no longer start a stop string to
  // `output`; returns true if a stop string appeared (the text from it on is dropped).
  bool ReleaseText(int32_t token, std::string& output);
  // Marks the sequence finished, releases held text into `output` (unless it follows a stop
  // string) and gives the KV cache back.
  void Finish(FinishReason reason, StepOutput& output, bool drop_pending_text = false);

  const Tokenizer& tokenizer_;
  std::span<const int32_t> end_of_generation_ids_;  // ascending
  SamplingParams sampling_;
  StopCriteria stop_;
  int64_t max_length_;  // context (fed tokens + the last sampled one) may not exceed this
  Priority priority_;
  std::unique_ptr<KvCache> cache_;
  Sampler sampler_;
  TextStream text_stream_;

  std::vector<int32_t> tokens_;  // everything in the context, fed or not
  int32_t prompt_tokens_;
  int32_t cached_prompt_tokens_;
  int32_t completion_tokens_ = 0;
  int32_t preemptions_ = 0;
  std::string held_text_;  // complete characters that may begin a stop string
  FinishReason finish_reason_ = FinishReason::kNone;
  std::atomic<bool> cancelled_{false};
};

}  // namespace tessera
