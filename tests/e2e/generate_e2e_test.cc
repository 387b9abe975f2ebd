// Generate over the wire: greedy output against llama2.c's reference, determinism, tokens and
// text agreeing, stop criteria, usage (cached prompt tokens included), request ids and logprobs.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

using GenerateTest = E2eTest;

constexpr int32_t kBos = 1;
const char kPrompt[] = "Once upon a time, there was a little dog";

std::vector<int32_t> TokenizeWithBos(pb::InferenceService::Stub& stub, const std::string& text) {
  pb::TokenizeRequest request;
  request.set_model(kModel);
  request.set_text(text);
  request.set_add_special_tokens(true);
  pb::TokenizeResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(stub.Tokenize(&context, request, &response).ok());
  return {response.token_ids().begin(), response.token_ids().end()};
}

std::string Detokenize(pb::InferenceService::Stub& stub, const std::vector<int32_t>& ids) {
  pb::DetokenizeRequest request;
  request.set_model(kModel);
  request.mutable_token_ids()->Add(ids.begin(), ids.end());
  pb::DetokenizeResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(stub.Detokenize(&context, request, &response).ok());
  return response.text();
}

// tests/data/llama2c/stories260K.md: llama2.c's greedy output for this model from BOS alone.
TEST_F(GenerateTest, GreedyFromBosMatchesLlama2cReference) {
  const std::string reference =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
      "park. One day, she saw a big, red ball.";
  pb::GenerateRequest request = GreedyRequest("", 40);
  request.mutable_prompt()->mutable_token_ids()->add_ids(kBos);
  const GenerateResult result = Generate(stub(), request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_GT(result.text.size(), 40u);
  EXPECT_TRUE(absl::StartsWith(reference, result.text)) << result.text;
  EXPECT_EQ(result.finish_reason, pb::FINISH_REASON_LENGTH);
  EXPECT_EQ(result.token_ids.size(), 40u);
  // From BOS alone the output starts the text: Detokenize of the ids gives it exactly.
  EXPECT_EQ(Detokenize(stub(), result.token_ids), result.text);
}

TEST_F(GenerateTest, GreedyIsDeterministic) {
  const GenerateResult first = Generate(stub(), GreedyRequest(kPrompt, 30));
  const GenerateResult second = Generate(stub(), GreedyRequest(kPrompt, 30));
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  ASSERT_TRUE(second.status.ok());
  EXPECT_EQ(first.token_ids, second.token_ids);
  EXPECT_EQ(first.text, second.text);
}

TEST_F(GenerateTest, SeededSamplingIsReproducible) {
  pb::GenerateRequest request = GreedyRequest(kPrompt, 30);
  request.mutable_sampling()->set_temperature(1.0f);
  request.mutable_sampling()->set_seed(1234);
  const GenerateResult first = Generate(stub(), request);
  const GenerateResult second = Generate(stub(), request);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.token_ids, second.token_ids);
}

// The text is the decoded tokens: what Detokenize adds to the prompt's text, and the tokens'
// own bytes.
TEST_F(GenerateTest, TokensAndTextAgree) {
  const GenerateResult result = Generate(stub(), GreedyRequest(kPrompt, 50));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.token_bytes, result.text);
  std::vector<int32_t> all = TokenizeWithBos(stub(), kPrompt);
  const std::string prompt_text = Detokenize(stub(), all);
  all.insert(all.end(), result.token_ids.begin(), result.token_ids.end());
  EXPECT_EQ(Detokenize(stub(), all), prompt_text + result.text);
}

TEST_F(GenerateTest, MaxTokensEndsWithLengthAndCountsUsage) {
  pb::GenerateRequest request = GreedyRequest(kPrompt, 7);
  request.mutable_stop()->set_ignore_eos(true);
  const GenerateResult result = Generate(stub(), request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.finish_reason, pb::FINISH_REASON_LENGTH);
  EXPECT_EQ(result.token_ids.size(), 7u);
  EXPECT_EQ(result.usage.completion_tokens(), 7);
  EXPECT_EQ(result.usage.prompt_tokens(),
            static_cast<int32_t>(TokenizeWithBos(stub(), kPrompt).size()));
}

// A prompt run before shares its KV cache in whole 16-token blocks, short of its last token,
// and gives the same tokens; usage says how many prompt tokens were cached.
TEST_F(GenerateTest, RepeatedPromptReportsCachedTokensAndGivesTheSameTokens) {
  const std::string prompt =
      "The old lighthouse keeper climbed the winding stairs every evening to light the lamp, "
      "and the ships far out at sea";
  const int32_t prompt_tokens = static_cast<int32_t>(TokenizeWithBos(stub(), prompt).size());
  ASSERT_GT(prompt_tokens, 33);
  const GenerateResult first = Generate(stub(), GreedyRequest(prompt, 12));
  const GenerateResult second = Generate(stub(), GreedyRequest(prompt, 12));
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  EXPECT_EQ(first.usage.cached_prompt_tokens(), 0);
  EXPECT_EQ(second.usage.cached_prompt_tokens(), (prompt_tokens - 1) / 16 * 16);
  EXPECT_EQ(second.usage.prompt_tokens(), prompt_tokens);
  EXPECT_EQ(second.token_ids, first.token_ids);
}

// Only the last message carries the finish reason and usage; every message the request id.
TEST_F(GenerateTest, StreamShape) {
  const GenerateResult result = Generate(stub(), GreedyRequest(kPrompt, 20));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_FALSE(result.responses.empty());
  const std::string& id = result.responses.front().request_id();
  EXPECT_FALSE(id.empty());
  for (size_t i = 0; i < result.responses.size(); ++i) {
    const pb::GenerateResponse& response = result.responses[i];
    EXPECT_EQ(response.request_id(), id);
    const bool last = i + 1 == result.responses.size();
    EXPECT_EQ(response.finish_reason() != pb::FINISH_REASON_UNSPECIFIED, last) << i;
    EXPECT_EQ(response.has_usage(), last) << i;
  }
}

TEST_F(GenerateTest, StopStringEndsBeforeIt) {
  const GenerateResult free_run = Generate(stub(), GreedyRequest(kPrompt, 40));
  ASSERT_TRUE(free_run.status.ok()) << free_run.status.error_message();
  ASSERT_GT(free_run.text.size(), 20u);
  // A piece from the middle of the free run's text; generation must stop right before it.
  const std::string stop = free_run.text.substr(12, 5);
  const size_t expected_end = free_run.text.find(stop);

  pb::GenerateRequest request = GreedyRequest(kPrompt, 40);
  request.mutable_stop()->add_stop_strings(stop);
  const GenerateResult stopped = Generate(stub(), request);
  ASSERT_TRUE(stopped.status.ok()) << stopped.status.error_message();
  EXPECT_EQ(stopped.finish_reason, pb::FINISH_REASON_STOP);
  EXPECT_EQ(stopped.text, free_run.text.substr(0, expected_end));
  EXPECT_EQ(stopped.text.find(stop), std::string::npos);
}

TEST_F(GenerateTest, StopTokenIsReturnedAndEndsTheRun) {
  const GenerateResult free_run = Generate(stub(), GreedyRequest(kPrompt, 20));
  ASSERT_TRUE(free_run.status.ok()) << free_run.status.error_message();
  ASSERT_GE(free_run.token_ids.size(), 6u);
  const int32_t stop_token = free_run.token_ids[5];
  const size_t first = static_cast<size_t>(
      std::find(free_run.token_ids.begin(), free_run.token_ids.end(), stop_token) -
      free_run.token_ids.begin());

  pb::GenerateRequest request = GreedyRequest(kPrompt, 20);
  request.mutable_stop()->add_stop_token_ids(stop_token);
  const GenerateResult stopped = Generate(stub(), request);
  ASSERT_TRUE(stopped.status.ok()) << stopped.status.error_message();
  EXPECT_EQ(stopped.finish_reason, pb::FINISH_REASON_STOP);
  EXPECT_EQ(stopped.token_ids, std::vector<int32_t>(free_run.token_ids.begin(),
                                                    free_run.token_ids.begin() + first + 1));
}

TEST_F(GenerateTest, ClientRequestIdIsEchoed) {
  pb::GenerateRequest request = GreedyRequest(kPrompt, 10);
  request.set_request_id("client-chosen-id");
  const GenerateResult result = Generate(stub(), request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  for (const pb::GenerateResponse& response : result.responses) {
    EXPECT_EQ(response.request_id(), "client-chosen-id");
  }
}

TEST_F(GenerateTest, ServerAssignsDistinctIds) {
  const GenerateResult a = Generate(stub(), GreedyRequest(kPrompt, 3));
  const GenerateResult b = Generate(stub(), GreedyRequest(kPrompt, 3));
  ASSERT_TRUE(a.status.ok());
  ASSERT_TRUE(b.status.ok());
  EXPECT_FALSE(a.responses.front().request_id().empty());
  EXPECT_NE(a.responses.front().request_id(), b.responses.front().request_id());
}

TEST_F(GenerateTest, LogprobsOnlyWhenAsked) {
  const GenerateResult plain = Generate(stub(), GreedyRequest(kPrompt, 5));
  ASSERT_TRUE(plain.status.ok());
  for (const pb::GenerateResponse& response : plain.responses) {
    for (const pb::GeneratedToken& token : response.tokens()) {
      EXPECT_EQ(token.logprob(), 0.0f);
      EXPECT_EQ(token.top_logprobs_size(), 0);
    }
  }

  pb::GenerateRequest request = GreedyRequest(kPrompt, 5);
  request.mutable_sampling()->set_logprobs(true);
  request.mutable_sampling()->set_top_logprobs(3);
  const GenerateResult with = Generate(stub(), request);
  ASSERT_TRUE(with.status.ok()) << with.status.error_message();
  EXPECT_EQ(with.token_ids, plain.token_ids);
  for (const pb::GenerateResponse& response : with.responses) {
    for (const pb::GeneratedToken& token : response.tokens()) {
      EXPECT_LT(token.logprob(), 0.0f);
      ASSERT_EQ(token.top_logprobs_size(), 3);
      // Greedy picks the most likely token, so it heads the alternatives.
      EXPECT_EQ(token.top_logprobs(0).token_id(), token.token_id());
      EXPECT_FLOAT_EQ(token.top_logprobs(0).logprob(), token.logprob());
      EXPECT_GE(token.top_logprobs(0).logprob(), token.top_logprobs(1).logprob());
      EXPECT_GE(token.top_logprobs(1).logprob(), token.top_logprobs(2).logprob());
    }
  }
}

}  // namespace
}  // namespace tessera::e2e
