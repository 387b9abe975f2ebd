// Prefill / Decode / ForkSession / ReleaseSession over the wire: step-by-step decoding reproduces
// Generate, appended tokens join the context, a fork and its parent both go on as the session
// would have, and finished, released, expired or unloaded sessions fail with the documented codes.
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

const char kPrompt[] = "Once upon a time, there was a big cat";

pb::PrefillRequest GreedyPrefill(const std::string& text, int max_tokens) {
  pb::PrefillRequest request;
  request.set_model(kModel);
  request.mutable_prompt()->set_text(text);
  request.mutable_sampling()->set_temperature(0);
  request.mutable_stop()->set_max_tokens(max_tokens);
  request.mutable_stop()->set_ignore_eos(true);
  return request;
}

grpc::Status Prefill(pb::InferenceService::Stub& stub, const pb::PrefillRequest& request,
                     pb::PrefillResponse* response) {
  grpc::ClientContext context;
  return stub.Prefill(&context, request, response);
}

grpc::Status Decode(pb::InferenceService::Stub& stub, const std::string& session_id,
                    int num_tokens, const std::vector<int32_t>& append,
                    pb::DecodeResponse* response) {
  pb::DecodeRequest request;
  request.set_session_id(session_id);
  request.set_num_tokens(num_tokens);
  request.mutable_append_token_ids()->Add(append.begin(), append.end());
  grpc::ClientContext context;
  return stub.Decode(&context, request, response);
}

grpc::Status Release(pb::InferenceService::Stub& stub, const std::string& session_id) {
  pb::ReleaseSessionRequest request;
  request.set_session_id(session_id);
  pb::ReleaseSessionResponse response;
  grpc::ClientContext context;
  return stub.ReleaseSession(&context, request, &response);
}

grpc::Status Fork(pb::InferenceService::Stub& stub, const std::string& session_id,
                  pb::ForkSessionResponse* response) {
  pb::ForkSessionRequest request;
  request.set_session_id(session_id);
  grpc::ClientContext context;
  return stub.ForkSession(&context, request, response);
}

std::vector<int32_t> Ids(const pb::DecodeResponse& response) {
  std::vector<int32_t> ids;
  for (const pb::GeneratedToken& token : response.tokens()) ids.push_back(token.token_id());
  return ids;
}

using SessionsTest = E2eTest;

TEST_F(SessionsTest, PrefillThenDecodeReproducesGenerate) {
  pb::GenerateRequest generate = GreedyRequest(kPrompt, 10);
  generate.mutable_stop()->set_ignore_eos(true);
  const GenerateResult reference = Generate(stub(), generate);
  ASSERT_TRUE(reference.status.ok()) << reference.status.error_message();
  const std::vector<int32_t>& g = reference.token_ids;
  ASSERT_EQ(g.size(), 10u);

  pb::PrefillResponse prefill;
  ASSERT_TRUE(Prefill(stub(), GreedyPrefill(kPrompt, 0), &prefill).ok());
  EXPECT_FALSE(prefill.session_id().empty());
  EXPECT_FALSE(prefill.request_id().empty());
  EXPECT_EQ(prefill.token().token_id(), g[0]);
  EXPECT_EQ(prefill.finish_reason(), pb::FINISH_REASON_UNSPECIFIED);
  EXPECT_EQ(prefill.usage().prompt_tokens(), reference.usage.prompt_tokens());
  EXPECT_EQ(prefill.usage().completion_tokens(), 1);

  pb::DecodeResponse three;
  ASSERT_TRUE(Decode(stub(), prefill.session_id(), 3, {}, &three).ok());
  EXPECT_EQ(Ids(three), std::vector<int32_t>(g.begin() + 1, g.begin() + 4));
  EXPECT_EQ(three.usage().completion_tokens(), 4);
  EXPECT_EQ(prefill.text() + three.text(), reference.text.substr(0, prefill.text().size() +
                                                                        three.text().size()));

  // Appending the token Generate sampled next puts the session where Generate was.
  pb::DecodeResponse appended;
  ASSERT_TRUE(Decode(stub(), prefill.session_id(), 2, {g[4]}, &appended).ok());
  EXPECT_EQ(Ids(appended), std::vector<int32_t>(g.begin() + 5, g.begin() + 7));

  // num_tokens 0 means one.
  pb::DecodeResponse one;
  ASSERT_TRUE(Decode(stub(), prefill.session_id(), 0, {}, &one).ok());
  EXPECT_EQ(Ids(one), std::vector<int32_t>{g[7]});
}

TEST_F(SessionsTest, ForkAndParentBothContinueAsTheSession) {
  pb::GenerateRequest generate = GreedyRequest(kPrompt, 12);
  generate.mutable_stop()->set_ignore_eos(true);
  const GenerateResult reference = Generate(stub(), generate);
  ASSERT_TRUE(reference.status.ok()) << reference.status.error_message();
  const std::vector<int32_t>& g = reference.token_ids;

  pb::PrefillResponse prefill;
  ASSERT_TRUE(Prefill(stub(), GreedyPrefill(kPrompt, 12), &prefill).ok());
  pb::DecodeResponse first;
  ASSERT_TRUE(Decode(stub(), prefill.session_id(), 3, {}, &first).ok());
  pb::ForkSessionResponse fork;
  ASSERT_TRUE(Fork(stub(), prefill.session_id(), &fork).ok());
  EXPECT_NE(fork.session_id(), prefill.session_id());
  EXPECT_FALSE(fork.request_id().empty());
  EXPECT_NE(fork.request_id(), prefill.request_id());
  EXPECT_EQ(fork.usage().completion_tokens(), 4);
  EXPECT_EQ(fork.usage().prompt_tokens(), prefill.usage().prompt_tokens());

  for (const std::string& session : {fork.session_id(), prefill.session_id()}) {
    pb::DecodeResponse rest;
    ASSERT_TRUE(Decode(stub(), session, 8, {}, &rest).ok());
    EXPECT_EQ(Ids(rest), std::vector<int32_t>(g.begin() + 4, g.end()));
    EXPECT_EQ(rest.finish_reason(), pb::FINISH_REASON_LENGTH);
  }
  // Finished sessions do not fork; unknown ones are not found.
  pb::ForkSessionResponse refused;
  ExpectError(Fork(stub(), fork.session_id(), &refused), grpc::StatusCode::FAILED_PRECONDITION,
              "SESSION_FINISHED");
  ExpectError(Fork(stub(), "no-such-session", &refused), grpc::StatusCode::NOT_FOUND,
              "SESSION_NOT_FOUND");
  EXPECT_TRUE(Release(stub(), fork.session_id()).ok());
  EXPECT_TRUE(Release(stub(), prefill.session_id()).ok());
}

TEST_F(SessionsTest, PrefillEchoesTheClientsRequestId) {
  pb::PrefillRequest request = GreedyPrefill(kPrompt, 0);
  request.set_request_id("my-session-request");
  pb::PrefillResponse response;
  ASSERT_TRUE(Prefill(stub(), request, &response).ok());
  EXPECT_EQ(response.request_id(), "my-session-request");
}

TEST_F(SessionsTest, FinishedSessionRefusesDecode) {
  pb::PrefillResponse prefill;
  ASSERT_TRUE(Prefill(stub(), GreedyPrefill(kPrompt, 1), &prefill).ok());
  EXPECT_EQ(prefill.finish_reason(), pb::FINISH_REASON_LENGTH);
  pb::DecodeResponse response;
  ExpectError(Decode(stub(), prefill.session_id(), 1, {}, &response),
              grpc::StatusCode::FAILED_PRECONDITION, "SESSION_FINISHED");
}

TEST_F(SessionsTest, DecodeEndsWithFinishReasonAtMaxTokens) {
  pb::PrefillResponse prefill;
  ASSERT_TRUE(Prefill(stub(), GreedyPrefill(kPrompt, 3), &prefill).ok());
  pb::DecodeResponse response;
  ASSERT_TRUE(Decode(stub(), prefill.session_id(), 5, {}, &response).ok());
  EXPECT_EQ(response.tokens_size(), 2);
  EXPECT_EQ(response.finish_reason(), pb::FINISH_REASON_LENGTH);
  EXPECT_EQ(response.usage().completion_tokens(), 3);
}

TEST_F(SessionsTest, ReleasedAndUnknownSessionsAreNotFound) {
  pb::PrefillResponse prefill;
  ASSERT_TRUE(Prefill(stub(), GreedyPrefill(kPrompt, 0), &prefill).ok());
  ASSERT_TRUE(Release(stub(), prefill.session_id()).ok());
  pb::DecodeResponse response;
  ExpectError(Decode(stub(), prefill.session_id(), 1, {}, &response), grpc::StatusCode::NOT_FOUND,
              "SESSION_NOT_FOUND");
  ExpectError(Release(stub(), prefill.session_id()), grpc::StatusCode::NOT_FOUND,
              "SESSION_NOT_FOUND");
  ExpectError(Decode(stub(), "00000000000000000000000000000000", 1, {}, &response),
              grpc::StatusCode::NOT_FOUND, "SESSION_NOT_FOUND");
}

TEST_F(SessionsTest, DecodeArgumentErrors) {
  pb::PrefillResponse prefill;
  ASSERT_TRUE(Prefill(stub(), GreedyPrefill(kPrompt, 0), &prefill).ok());
  pb::DecodeResponse response;
  const grpc::Status negative = Decode(stub(), prefill.session_id(), -1, {}, &response);
  ExpectError(negative, grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT");
  EXPECT_EQ(BadFieldOf(negative), "num_tokens");
  const grpc::Status bad_token = Decode(stub(), prefill.session_id(), 1, {100000}, &response);
  ExpectError(bad_token, grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT");
  EXPECT_EQ(BadFieldOf(bad_token), "append_token_ids");
  // The session survives bad requests.
  EXPECT_TRUE(Decode(stub(), prefill.session_id(), 1, {}, &response).ok());
}

TEST_F(SessionsTest, UnloadReleasesTheModelsSessions) {
  pb::LoadModelRequest load;
  load.set_name("doomed");
  load.set_path(kModelPath);
  grpc::ClientContext load_context;
  auto loader = stub().LoadModel(&load_context, load);
  pb::LoadModelResponse progress;
  while (loader->Read(&progress)) {}
  ASSERT_TRUE(loader->Finish().ok());

  pb::PrefillRequest request = GreedyPrefill(kPrompt, 0);
  request.set_model("doomed");
  pb::PrefillResponse prefill;
  ASSERT_TRUE(Prefill(stub(), request, &prefill).ok());

  pb::UnloadModelRequest unload;
  unload.set_name("doomed");
  pb::UnloadModelResponse unloaded;
  grpc::ClientContext unload_context;
  ASSERT_TRUE(stub().UnloadModel(&unload_context, unload, &unloaded).ok());
  pb::DecodeResponse response;
  ExpectError(Decode(stub(), prefill.session_id(), 1, {}, &response), grpc::StatusCode::NOT_FOUND,
              "SESSION_NOT_FOUND");
}

class ShortIdleTimeoutTest : public E2eTest {
 protected:
  server::ServerOptions Options() override {
    server::ServerOptions options = E2eTest::Options();
    options.session_idle_timeout = absl::Milliseconds(100);
    return options;
  }
};

TEST_F(ShortIdleTimeoutTest, IdleSessionExpires) {
  pb::PrefillResponse prefill;
  ASSERT_TRUE(Prefill(stub(), GreedyPrefill(kPrompt, 0), &prefill).ok());
  pb::DecodeResponse response;
  ASSERT_TRUE(Decode(stub(), prefill.session_id(), 1, {}, &response).ok());
  absl::SleepFor(absl::Milliseconds(300));
  ExpectError(Decode(stub(), prefill.session_id(), 1, {}, &response), grpc::StatusCode::NOT_FOUND,
              "SESSION_NOT_FOUND");
}

}  // namespace
}  // namespace tessera::e2e
