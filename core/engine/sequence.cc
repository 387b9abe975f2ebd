#include "core/engine/sequence.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

// Length of the longest suffix of `text` that is a proper prefix of one of `stops`: text that
// must be held back because the next token may complete a stop string.
size_t HeldSuffixLength(std::string_view text, const std::vector<std::string>& stops) {
  size_t longest = 0;
  for (const std::string& stop : stops) {
    const size_t max_len = std::min(text.size(), stop.size() - 1);
    for (size_t len = max_len; len > longest; --len) {
      if (text.substr(text.size() - len) == std::string_view(stop).substr(0, len)) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

}  // namespace

Sequence::Sequence(std::vector<int32_t> prompt, SamplingParams sampling, StopCriteria stop,
                   int64_t kv_capacity, Priority priority, const Tokenizer& tokenizer,
                   std::span<const int32_t> end_of_generation_ids, bool output_starts_text)
    : tokenizer_(tokenizer),
      end_of_generation_ids_(end_of_generation_ids),
      sampling_(std::move(sampling)),
      stop_(std::move(stop)),
      max_length_(kv_capacity),
      priority_(priority),
      sampler_(sampling_, tokenizer.vocab_size(), prompt),
      text_stream_(output_starts_text && tokenizer.strips_leading_space()),
      tokens_(std::move(prompt)),
      prompt_tokens_(static_cast<int32_t>(tokens_.size())),
      cached_prompt_tokens_(0) {}

Sequence::Sequence(const Sequence& parent, std::unique_ptr<KvCache> cache)
    : tokenizer_(parent.tokenizer_),
      end_of_generation_ids_(parent.end_of_generation_ids_),
      sampling_(parent.sampling_),
      stop_(parent.stop_),
      max_length_(parent.max_length_),
      priority_(parent.priority_),
      cache_(std::move(cache)),
      sampler_(parent.sampler_),
      text_stream_(parent.text_stream_),
      tokens_(parent.tokens_),
      prompt_tokens_(parent.prompt_tokens_),
      cached_prompt_tokens_(parent.cached_prompt_tokens_),
      completion_tokens_(parent.completion_tokens_),
      held_text_(parent.held_text_) {}

absl::StatusOr<std::unique_ptr<Sequence>> Sequence::Fork() const {
  if (finished()) {
    return WithReason(absl::FailedPreconditionError("the session has finished; it cannot fork"),
                      reason::kSessionFinished);
  }
  if (!cache_) {
    return WithReason(
        absl::FailedPreconditionError("the session is waiting for KV cache; fork it once it runs"),
        reason::kSessionBusy);
  }
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, cache_->pool().Fork(*cache_));
  return std::unique_ptr<Sequence>(new Sequence(*this, std::move(cache)));
}

absl::Status Sequence::Append(std::span<const int32_t> tokens) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= tokenizer_.vocab_size()) {
      return InvalidField("append_token_ids",
                          absl::StrCat("token id ", tokens[i], " at index ", i,
                                       " is outside the vocabulary [0, ",
                                       tokenizer_.vocab_size(), ")"));
    }
  }
  if (static_cast<int64_t>(tokens_.size() + tokens.size()) >= max_length_) {
    return InvalidField("append_token_ids",
                        absl::StrCat("the session holds ", tokens_.size(), " tokens of at most ",
                                     max_length_, "; appending ", tokens.size(),
                                     " leaves no room to generate"),
                        reason::kContextLengthExceeded);
  }
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  return absl::OkStatus();
}

StepOutput Sequence::AcceptChoice(const TokenChoice& choice) {
  StepOutput output;
  SampledToken sampled = Sampler::ToSampledToken(choice);
  const int32_t token = sampled.token;
  sampler_.Accept(token);
  tokens_.push_back(token);
  ++completion_tokens_;
  output.tokens.push_back(std::move(sampled));

  const bool stop_string = ReleaseText(token, output.text);
  const FinishReason reason = stop_string ? FinishReason::kStop : FinishReasonAfter(token);
  if (reason != FinishReason::kNone) Finish(reason, output, /*drop_pending_text=*/stop_string);
  output.prompt_tokens = prompt_tokens_;
  output.cached_prompt_tokens = cached_prompt_tokens_;
  output.completion_tokens = completion_tokens_;
  return output;
}

StepOutput Sequence::FinishCancelled() {
  StepOutput output;
  Finish(FinishReason::kCancelled, output);
  return output;
}

FinishReason Sequence::FinishReasonAfter(int32_t token) const {
  if (!stop_.ignore_eos && std::binary_search(end_of_generation_ids_.begin(),
                                               end_of_generation_ids_.end(), token)) {
    return FinishReason::kEndOfSequence;
  }
  if (std::find(stop_.stop_token_ids.begin(), stop_.stop_token_ids.end(), token) !=
      stop_.stop_token_ids.end()) {
    return FinishReason::kStop;
  }
  if (stop_.max_tokens > 0 && completion_tokens_ >= stop_.max_tokens) return FinishReason::kLength;
  // The sampled token still has to be fed before the next one: no room means the context is full.
  if (static_cast<int64_t>(tokens_.size()) >= max_length_) return FinishReason::kLength;
  return FinishReason::kNone;
}

bool Sequence::ReleaseText(int32_t token, std::string& output) {
  held_text_ += text_stream_.Push(tokenizer_.TokenBytes(token));
  size_t stop_at = std::string::npos;
  for (const std::string& stop : stop_.stop_strings) {
    stop_at = std::min(stop_at, held_text_.find(stop));
  }
  if (stop_at != std::string::npos) {
    output += held_text_.substr(0, stop_at);
    held_text_.clear();
    return true;
  }
  const size_t release = held_text_.size() - HeldSuffixLength(held_text_, stop_.stop_strings);
  output += held_text_.substr(0, release);
  held_text_.erase(0, release);
  return false;
}

void Sequence::Finish(FinishReason reason, StepOutput& output, bool drop_pending_text) {
  // Text held back never completed a stop string, so it belongs to the output, unless a stop
  // string was found (ReleaseText then dropped everything from it on).
  if (!drop_pending_text) output.text += held_text_ + text_stream_.Flush();
  held_text_.clear();
  finish_reason_ = reason;
  output.finish_reason = reason;
  output.prompt_tokens = prompt_tokens_;
  output.cached_prompt_tokens = cached_prompt_tokens_;
  output.completion_tokens = completion_tokens_;
  cache_.reset();  // a finished sequence never runs again: give its KV cache back now
}

}  // namespace tessera
