// The engine-side description of one generation: what to generate from, how to sample, when to
// stop; and what each step hands back.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"

#include "core/engine/sampler.h"
#include "core/engine/sampling_params.h"
#include "core/tokenizer/chat_template.h"

namespace tessera {

struct StopCriteria {
  int32_t max_tokens = 0;  // 0: until the context (or the whole KV cache, if smaller) is full
  std::vector<std::string> stop_strings;  // generation ends before any of them; not returned
  std::vector<int32_t> stop_token_ids;    // generation ends after any of them; returned
  bool ignore_eos = false;
};

// Which runs the engine serves first when they compete: for room in the KV cache (admission,
// and which runs give theirs up when it runs out) and for the prompt tokens of each step.
enum class Priority : uint8_t { kLow, kNormal, kHigh };

struct GenerationRequest {
  // Text is tokenized (with BOS when the model uses one); ids are used as given; chat messages
  // are rendered with the model's chat template (ending with the assistant's header) and the
  // result tokenized with its special tokens recognised and no BOS added.
  std::variant<std::string, std::vector<int32_t>, std::vector<ChatMessage>> prompt;
  SamplingParams sampling;
  StopCriteria stop;
  Priority priority = Priority::kNormal;
};

enum class FinishReason : uint8_t { kNone, kLength, kStop, kEndOfSequence, kCancelled };
absl::string_view FinishReasonName(FinishReason reason);

// What one engine step produced for one sequence.
struct StepOutput {
  std::vector<SampledToken> tokens;  // usually one; none when the step only finished the sequence
  std::string text;                  // whole UTF-8 characters only
  FinishReason finish_reason = FinishReason::kNone;
  int32_t prompt_tokens = 0;         // totals so far
  int32_t completion_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // of prompt_tokens, those whose KV cache was shared
};

}  // namespace tessera
