#include "core/engine/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"

namespace tessera {
namespace {

// Comparisons are written so that NaN fails them.
bool InClosedRange(float value, float low, float high) { return value >= low && value <= high; }

absl::Status ValidateLogitBias(const SamplingParams& params, int32_t vocab_size) {
  for (const auto& [token, bias] : params.logit_bias) {
    if (token < 0 || token >= vocab_size) {
      return InvalidField("sampling.logit_bias",
                          absl::StrCat("token ids must be in [0, ", vocab_size, "), got ", token));
    }
    if (!std::isfinite(bias)) {
      return InvalidField("sampling.logit_bias",
                          absl::StrCat("bias for token ", token, " must be finite, got ", bias));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& params, int32_t vocab_size) {
  if (!(params.temperature >= 0 && std::isfinite(params.temperature))) {
    return InvalidField("sampling.temperature",
                        absl::StrCat("must be finite and >= 0, got ", params.temperature));
  }
  if (params.top_k < 0) {
    return InvalidField("sampling.top_k", absl::StrCat("must be >= 0, got ", params.top_k));
  }
  if (!(params.top_p > 0 && params.top_p <= 1)) {
    return InvalidField("sampling.top_p", absl::StrCat("must be in (0, 1], got ", params.top_p));
  }
  if (!InClosedRange(params.min_p, 0, 1)) {
    return InvalidField("sampling.min_p", absl::StrCat("must be in [0, 1], got ", params.min_p));
  }
  if (!(params.repetition_penalty > 0 && std::isfinite(params.repetition_penalty))) {
    return InvalidField("sampling.repetition_penalty",
                        absl::StrCat("must be finite and > 0, got ", params.repetition_penalty));
  }
  if (!InClosedRange(params.presence_penalty, -2, 2)) {
    return InvalidField("sampling.presence_penalty",
                        absl::StrCat("must be in [-2, 2], got ", params.presence_penalty));
  }
  if (!InClosedRange(params.frequency_penalty, -2, 2)) {
    return InvalidField("sampling.frequency_penalty",
                        absl::StrCat("must be in [-2, 2], got ", params.frequency_penalty));
  }
  if (params.top_logprobs < 0 || params.top_logprobs > kMaxTopLogprobs) {
    return InvalidField("sampling.top_logprobs", absl::StrCat("must be in [0, ", kMaxTopLogprobs,
                                                              "], got ", params.top_logprobs));
  }
  return ValidateLogitBias(params, vocab_size);
}

}  // namespace tessera
