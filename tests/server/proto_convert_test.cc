// proto <-> core conversions: the contract's defaults for unset optional fields, field-by-field
// copies, enum mappings, and ModelInfo checked against stories260K's documented hyperparameters.
#include "server/proto_convert.h"

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/engine_test_util.h"

namespace tessera::server {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Token i is the text "<i>"; no real vocabulary needed to check the copying.
class NumberTokenizer : public Tokenizer {
 public:
  NumberTokenizer() { vocab_size_ = 100; }
  std::vector<int32_t> Encode(std::string_view) const override { return {}; }
  std::string TokenBytes(int32_t id) const override { return "<" + std::to_string(id) + ">"; }
  std::string_view TokenText(int32_t) const override { return ""; }
};

TEST(ProtoConvertTest, UnsetSamplingFieldsTakeTheContractsDefaults) {
  const SamplingParams params = ToSamplingParams(pb::SamplingParams());
  EXPECT_EQ(params.temperature, 1.0f);
  EXPECT_EQ(params.top_p, 1.0f);
  EXPECT_EQ(params.repetition_penalty, 1.0f);
  EXPECT_EQ(params.top_k, 0);
  EXPECT_EQ(params.min_p, 0.0f);
  EXPECT_EQ(params.presence_penalty, 0.0f);
  EXPECT_EQ(params.frequency_penalty, 0.0f);
  EXPECT_TRUE(params.logit_bias.empty());
  EXPECT_FALSE(params.seed.has_value());
  EXPECT_EQ(params.top_logprobs, 0);
}

// An optional field set to zero is a value, not "unset": temperature 0 means greedy.
TEST(ProtoConvertTest, OptionalFieldsSetToZeroStayZero) {
  pb::SamplingParams proto;
  proto.set_temperature(0);
  proto.set_top_p(0);
  proto.set_repetition_penalty(0);
  proto.set_seed(0);
  const SamplingParams params = ToSamplingParams(proto);
  EXPECT_EQ(params.temperature, 0.0f);
  EXPECT_EQ(params.top_p, 0.0f);
  EXPECT_EQ(params.repetition_penalty, 0.0f);
  ASSERT_TRUE(params.seed.has_value());
  EXPECT_EQ(*params.seed, 0u);
}

TEST(ProtoConvertTest, EverySamplingFieldIsCopied) {
  pb::SamplingParams proto;
  proto.set_temperature(0.7f);
  proto.set_top_k(40);
  proto.set_top_p(0.9f);
  proto.set_min_p(0.05f);
  proto.set_repetition_penalty(1.1f);
  proto.set_presence_penalty(0.5f);
  proto.set_frequency_penalty(-0.5f);
  (*proto.mutable_logit_bias())[7] = 2.0f;
  (*proto.mutable_logit_bias())[3] = -1.0f;
  proto.set_seed(42);
  proto.set_top_logprobs(5);
  const SamplingParams params = ToSamplingParams(proto);
  EXPECT_EQ(params.temperature, 0.7f);
  EXPECT_EQ(params.top_k, 40);
  EXPECT_EQ(params.top_p, 0.9f);
  EXPECT_EQ(params.min_p, 0.05f);
  EXPECT_EQ(params.repetition_penalty, 1.1f);
  EXPECT_EQ(params.presence_penalty, 0.5f);
  EXPECT_EQ(params.frequency_penalty, -0.5f);
  EXPECT_THAT(params.logit_bias, ElementsAre(Pair(3, -1.0f), Pair(7, 2.0f)));
  EXPECT_EQ(params.seed, 42u);
  EXPECT_EQ(params.top_logprobs, 5);
}

TEST(ProtoConvertTest, StopCriteriaAreCopied) {
  pb::StopCriteria proto;
  proto.set_max_tokens(12);
  proto.add_stop_strings("\n\n");
  proto.add_stop_strings("The end");
  proto.add_stop_token_ids(2);
  proto.set_ignore_eos(true);
  const StopCriteria stop = ToStopCriteria(proto);
  EXPECT_EQ(stop.max_tokens, 12);
  EXPECT_THAT(stop.stop_strings, ElementsAre("\n\n", "The end"));
  EXPECT_THAT(stop.stop_token_ids, ElementsAre(2));
  EXPECT_TRUE(stop.ignore_eos);
}

TEST(ProtoConvertTest, PromptKinds) {
  pb::Prompt text;
  text.set_text("Once upon");
  absl::StatusOr<GenerationRequest> from_text = ToGenerationRequest(text, {}, {}, {});
  ASSERT_TRUE(from_text.ok());
  EXPECT_EQ(std::get<std::string>(from_text->prompt), "Once upon");

  pb::Prompt ids;
  ids.mutable_token_ids()->add_ids(1);
  ids.mutable_token_ids()->add_ids(403);
  absl::StatusOr<GenerationRequest> from_ids = ToGenerationRequest(ids, {}, {}, {});
  ASSERT_TRUE(from_ids.ok());
  EXPECT_THAT(std::get<std::vector<int32_t>>(from_ids->prompt), ElementsAre(1, 403));

  absl::StatusOr<GenerationRequest> unset = ToGenerationRequest(pb::Prompt(), {}, {}, {});
  EXPECT_EQ(unset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(unset.status()), "prompt");
}

TEST(ProtoConvertTest, PriorityDefaultsToNormalAndUnknownValuesAreInvalid) {
  EXPECT_EQ(*ToPriority(pb::PRIORITY_UNSPECIFIED), Priority::kNormal);
  EXPECT_EQ(*ToPriority(pb::PRIORITY_LOW), Priority::kLow);
  EXPECT_EQ(*ToPriority(pb::PRIORITY_NORMAL), Priority::kNormal);
  EXPECT_EQ(*ToPriority(pb::PRIORITY_HIGH), Priority::kHigh);
  const absl::Status unknown = ToPriority(static_cast<pb::Priority>(7)).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(unknown), "priority");
}

TEST(ProtoConvertTest, LogprobsAreWantedWhenAskedFor) {
  pb::SamplingParams sampling;
  EXPECT_FALSE(WantsLogprobs(sampling));
  sampling.set_logprobs(true);
  EXPECT_TRUE(WantsLogprobs(sampling));
  sampling.set_logprobs(false);
  sampling.set_top_logprobs(2);
  EXPECT_TRUE(WantsLogprobs(sampling));
}

TEST(ProtoConvertTest, GeneratedTokenCarriesLogprobsOnlyWhenAsked) {
  const NumberTokenizer tokenizer;
  SampledToken token;
  token.token = 17;
  token.logprob = -0.25f;
  token.top = {{17, -0.25f}, {4, -1.5f}};

  const pb::GeneratedToken plain = ToGeneratedTokenProto(token, tokenizer, false);
  EXPECT_EQ(plain.token_id(), 17);
  EXPECT_EQ(plain.token_bytes(), "<17>");
  EXPECT_EQ(plain.logprob(), 0.0f);
  EXPECT_EQ(plain.top_logprobs_size(), 0);

  const pb::GeneratedToken with = ToGeneratedTokenProto(token, tokenizer, true);
  EXPECT_EQ(with.logprob(), -0.25f);
  ASSERT_EQ(with.top_logprobs_size(), 2);
  EXPECT_EQ(with.top_logprobs(1).token_id(), 4);
  EXPECT_EQ(with.top_logprobs(1).token_bytes(), "<4>");
  EXPECT_EQ(with.top_logprobs(1).logprob(), -1.5f);
}

TEST(ProtoConvertTest, EnumsMapByMeaning) {
  EXPECT_EQ(ToFinishReasonProto(FinishReason::kNone), pb::FINISH_REASON_UNSPECIFIED);
  EXPECT_EQ(ToFinishReasonProto(FinishReason::kLength), pb::FINISH_REASON_LENGTH);
  EXPECT_EQ(ToFinishReasonProto(FinishReason::kStop), pb::FINISH_REASON_STOP);
  EXPECT_EQ(ToFinishReasonProto(FinishReason::kEndOfSequence),
            pb::FINISH_REASON_END_OF_SEQUENCE);
  EXPECT_EQ(ToFinishReasonProto(FinishReason::kCancelled), pb::FINISH_REASON_CANCELLED);
  EXPECT_EQ(ToLoadStageProto(LoadStage::kOpeningFile), pb::LOAD_STAGE_OPENING_FILE);
  EXPECT_EQ(ToLoadStageProto(LoadStage::kReadingWeights), pb::LOAD_STAGE_READING_WEIGHTS);
  EXPECT_EQ(ToLoadStageProto(LoadStage::kBuildingModel), pb::LOAD_STAGE_BUILDING_MODEL);
}

TEST(ProtoConvertTest, UsageComesFromTheStepTotals) {
  StepOutput output;
  output.prompt_tokens = 5;
  output.completion_tokens = 9;
  const pb::Usage usage = ToUsageProto(output);
  EXPECT_EQ(usage.prompt_tokens(), 5);
  EXPECT_EQ(usage.completion_tokens(), 9);
}

TEST(ProtoConvertTest, LoadRequestBecomesEngineOptions) {
  pb::LoadModelRequest request;
  request.set_name("ignored");
  request.set_path("/models/x.gguf");
  request.set_device("cpu");
  request.set_kv_cache_capacity_tokens(1024);
  request.set_kv_cache_memory_fraction(0.25);
  const EngineOptions options = ToEngineOptions(request);
  EXPECT_EQ(options.path, "/models/x.gguf");
  EXPECT_EQ(options.device, "cpu");
  EXPECT_EQ(options.kv_cache_capacity_tokens, 1024);
  EXPECT_EQ(options.kv_cache_memory_fraction, 0.25);
}

// Expected values from the training set-up in tests/data/llama2c/stories260K.md (dim 64,
// 5 layers, 8 heads, 4 KV heads, vocabulary 512) and, for the context length, the GGUF
// conversion's llama.context_length.
TEST(ProtoConvertTest, ModelInfoOfStories260K) {
  EngineOptions options;
  options.path = TESSERA_MODELS_DIR "/stories260K.gguf";
  options.kv_cache_capacity_tokens = 2048;
  options.device = "cpu";
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Load(options, [](LoadStage, int64_t, int64_t) {});
  ASSERT_TRUE(engine.ok()) << engine.status();
  const pb::ModelInfo info = ToModelInfoProto("stories", **engine);
  EXPECT_EQ(info.name(), "stories");
  EXPECT_EQ(info.path(), options.path);
  EXPECT_EQ(info.architecture(), "llama");
  EXPECT_EQ(info.vocab_size(), 512);
  EXPECT_EQ(info.hidden_size(), 64);
  EXPECT_EQ(info.num_layers(), 5);
  EXPECT_EQ(info.num_attention_heads(), 8);
  EXPECT_EQ(info.num_kv_heads(), 4);
  absl::StatusOr<std::unique_ptr<gguf::GgufFile>> file = gguf::GgufFile::Open(options.path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(info.context_length(), *(*file)->GetInt("llama.context_length"));
  EXPECT_EQ(info.weight_dtype(), "F32");
  // Keys and values, 5 layers, 4 KV heads of 64 / 8 = 8 dims, 4-byte floats.
  EXPECT_EQ(info.kv_cache_bytes_per_token(), 2 * 5 * 4 * 8 * 4);
  EXPECT_EQ(info.kv_cache_capacity_tokens(), 2048);
  EXPECT_EQ(info.device(), "cpu");
  EXPECT_GT(info.weight_bytes(), 0);
  EXPECT_EQ(info.engine_counters().steps(), 0);  // nothing ran yet

  // Three tokens after a one-token prompt: three passes of one token each.
  ASSERT_TRUE(testing::RunToEnd(**engine, testing::GreedyRequest({1}, 3))->run_status.ok());
  const EngineCounters counters = (*engine)->counters();
  const pb::EngineCounters counted = ToModelInfoProto("stories", **engine).engine_counters();
  EXPECT_EQ(counted.steps(), 3);
  EXPECT_EQ(counted.step_tokens(), 3);
  EXPECT_EQ(counted.forward_seconds(), absl::ToDoubleSeconds(counters.forward));
  EXPECT_GE(counted.scheduling_seconds(), 0);  // may still grow: added after the step's end
}

}  // namespace
}  // namespace tessera::server
