#include "core/engine/sampling_params.h"

#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

constexpr int32_t kVocabSize = 32;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

TEST(SamplingParamsTest, DefaultsAreValid) {
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams(), kVocabSize).ok());
}

TEST(SamplingParamsTest, BoundaryValuesAreValid) {
  SamplingParams params;
  params.temperature = 0;
  params.top_k = kVocabSize + 10;  // more than the vocabulary keeps everything
  params.top_p = 1;
  params.min_p = 1;
  params.repetition_penalty = 0.01f;
  params.presence_penalty = -2;
  params.frequency_penalty = 2;
  params.logit_bias = {{0, -100.0f}, {kVocabSize - 1, 100.0f}};
  params.top_logprobs = kMaxTopLogprobs;
  EXPECT_TRUE(ValidateSamplingParams(params, kVocabSize).ok());

  params.min_p = 0;
  params.presence_penalty = 2;
  params.frequency_penalty = -2;
  params.top_logprobs = 0;
  EXPECT_TRUE(ValidateSamplingParams(params, kVocabSize).ok());
}

struct BadCase {
  std::string field;  // as FieldOf reports it
  std::string got;    // how the message quotes the bad value
  std::function<void(SamplingParams&)> spoil;
};

TEST(SamplingParamsTest, EachBadFieldIsNamed) {
  const std::vector<BadCase> cases = {
      {"sampling.temperature", "got -0.5", [](SamplingParams& p) { p.temperature = -0.5f; }},
      {"sampling.temperature", "got inf", [](SamplingParams& p) { p.temperature = kInf; }},
      {"sampling.temperature", "got nan", [](SamplingParams& p) { p.temperature = kNan; }},
      {"sampling.top_k", "got -1", [](SamplingParams& p) { p.top_k = -1; }},
      {"sampling.top_p", "got 0", [](SamplingParams& p) { p.top_p = 0; }},
      {"sampling.top_p", "got 1.5", [](SamplingParams& p) { p.top_p = 1.5f; }},
      {"sampling.top_p", "got nan", [](SamplingParams& p) { p.top_p = kNan; }},
      {"sampling.min_p", "got -0.25", [](SamplingParams& p) { p.min_p = -0.25f; }},
      {"sampling.min_p", "got 1.25", [](SamplingParams& p) { p.min_p = 1.25f; }},
      {"sampling.repetition_penalty", "got 0",
       [](SamplingParams& p) { p.repetition_penalty = 0; }},
      {"sampling.repetition_penalty", "got -1",
       [](SamplingParams& p) { p.repetition_penalty = -1; }},
      {"sampling.repetition_penalty", "got inf",
       [](SamplingParams& p) { p.repetition_penalty = kInf; }},
      {"sampling.presence_penalty", "got 2.5",
       [](SamplingParams& p) { p.presence_penalty = 2.5f; }},
      {"sampling.presence_penalty", "got -3", [](SamplingParams& p) { p.presence_penalty = -3; }},
      {"sampling.frequency_penalty", "got 3", [](SamplingParams& p) { p.frequency_penalty = 3; }},
      {"sampling.frequency_penalty", "got nan",
       [](SamplingParams& p) { p.frequency_penalty = kNan; }},
      {"sampling.logit_bias", "got 32", [](SamplingParams& p) { p.logit_bias = {{32, 1.0f}}; }},
      {"sampling.logit_bias", "got -1", [](SamplingParams& p) { p.logit_bias = {{-1, 1.0f}}; }},
      {"sampling.logit_bias", "got -inf",
       [](SamplingParams& p) { p.logit_bias = {{3, 1.0f}, {5, -kInf}}; }},
      {"sampling.top_logprobs", "got -1", [](SamplingParams& p) { p.top_logprobs = -1; }},
      {"sampling.top_logprobs", "got 21", [](SamplingParams& p) { p.top_logprobs = 21; }},
  };
  for (const BadCase& bad : cases) {
    SCOPED_TRACE(bad.field + " " + bad.got);
    SamplingParams params;
    bad.spoil(params);
    const absl::Status status = ValidateSamplingParams(params, kVocabSize);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(FieldOf(status), Optional(bad.field));
    EXPECT_THAT(ErrorReasonOf(status), Optional(std::string(reason::kInvalidArgument)));
    EXPECT_THAT(status.message(), HasSubstr(bad.field + ": "));
    EXPECT_THAT(status.message(), HasSubstr(bad.got));
  }
}

}  // namespace
}  // namespace tessera
