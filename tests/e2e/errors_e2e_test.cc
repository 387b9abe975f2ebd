// The documented error of each bad request: status code, google.rpc.ErrorInfo reason and, for
// bad arguments, the google.rpc.BadRequest field (a proto field path of the request).
#include <string>

#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

using ErrorsTest = E2eTest;

struct BadRequestCase {
  std::string what;
  pb::GenerateRequest request;
  grpc::StatusCode code;
  std::string reason;
  std::string field;  // empty: no BadRequest expected
};

std::vector<BadRequestCase> Cases() {
  std::vector<BadRequestCase> cases;
  {
    pb::GenerateRequest request = GreedyRequest("Lily", 4);
    request.set_model("ghost");
    cases.push_back({"unknown model", request, grpc::StatusCode::NOT_FOUND, "MODEL_NOT_FOUND", ""});
  }
  {
    pb::GenerateRequest request = GreedyRequest("", 4);
    cases.push_back({"empty text prompt", request, grpc::StatusCode::INVALID_ARGUMENT,
                     "INVALID_ARGUMENT", "prompt.text"});
  }
  {
    pb::GenerateRequest request = GreedyRequest("Lily", 4);
    request.mutable_prompt()->mutable_token_ids();
    cases.push_back({"empty token prompt", request, grpc::StatusCode::INVALID_ARGUMENT,
                     "INVALID_ARGUMENT", "prompt.token_ids"});
  }
  {
    pb::GenerateRequest request = GreedyRequest("Lily", 4);
    request.clear_prompt();
    cases.push_back({"no prompt", request, grpc::StatusCode::INVALID_ARGUMENT,
                     "INVALID_ARGUMENT", "prompt"});
  }
  {
    pb::GenerateRequest request = GreedyRequest("Lily", 4);
    request.mutable_sampling()->set_temperature(-1);
    cases.push_back({"negative temperature", request, grpc::StatusCode::INVALID_ARGUMENT,
                     "INVALID_ARGUMENT", "sampling.temperature"});
  }
  {
    pb::GenerateRequest request = GreedyRequest("Lily", 4);
    request.mutable_sampling()->set_top_logprobs(21);
    cases.push_back({"too many top logprobs", request, grpc::StatusCode::INVALID_ARGUMENT,
                     "INVALID_ARGUMENT", "sampling.top_logprobs"});
  }
  {
    // The default model's context is 2048 tokens.
    pb::GenerateRequest request = GreedyRequest("Lily", 2048);
    cases.push_back({"max_tokens beyond the context", request, grpc::StatusCode::INVALID_ARGUMENT,
                     "CONTEXT_LENGTH_EXCEEDED", "stop.max_tokens"});
  }
  {
    pb::GenerateRequest request = GreedyRequest("Lily", -1);
    cases.push_back({"negative max_tokens", request, grpc::StatusCode::INVALID_ARGUMENT,
                     "INVALID_ARGUMENT", "stop.max_tokens"});
  }
  return cases;
}

TEST_F(ErrorsTest, GenerateRejectsBadRequests) {
  for (const BadRequestCase& bad : Cases()) {
    SCOPED_TRACE(bad.what);
    const GenerateResult result = Generate(stub(), bad.request);
    EXPECT_TRUE(result.responses.empty());
    ExpectError(result.status, bad.code, bad.reason);
    EXPECT_EQ(BadFieldOf(result.status), bad.field);
  }
}

// Prefill validates the same fields the same way.
TEST_F(ErrorsTest, PrefillRejectsBadRequests) {
  for (const BadRequestCase& bad : Cases()) {
    SCOPED_TRACE(bad.what);
    pb::PrefillRequest request;
    request.set_model(bad.request.model());
    *request.mutable_prompt() = bad.request.prompt();
    *request.mutable_sampling() = bad.request.sampling();
    *request.mutable_stop() = bad.request.stop();
    pb::PrefillResponse response;
    grpc::ClientContext context;
    const grpc::Status status = stub().Prefill(&context, request, &response);
    ExpectError(status, bad.code, bad.reason);
    EXPECT_EQ(BadFieldOf(status), bad.field);
  }
}

TEST_F(ErrorsTest, UnknownIdsAreNotFound) {
  pb::DecodeRequest decode;
  decode.set_session_id("no-such-session");
  pb::DecodeResponse decoded;
  grpc::ClientContext decode_context;
  ExpectError(stub().Decode(&decode_context, decode, &decoded), grpc::StatusCode::NOT_FOUND,
              "SESSION_NOT_FOUND");

  pb::CancelRequest cancel;
  cancel.set_request_id("no-such-request");
  pb::CancelResponse cancelled;
  grpc::ClientContext cancel_context;
  ExpectError(stub().Cancel(&cancel_context, cancel, &cancelled), grpc::StatusCode::NOT_FOUND,
              "REQUEST_NOT_FOUND");
}

}  // namespace
}  // namespace tessera::e2e
