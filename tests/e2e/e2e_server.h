// End-to-end test fixture: an in-process Tessera server on 127.0.0.1:0 with the default model
// loaded as "stories", reached through the generated stub over real channels, plus helpers to run
// a Generate stream and read the google.rpc details of an error.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::e2e {

namespace pb = ::tessera::inference::v1;

inline constexpr char kModel[] = "stories";
inline constexpr char kModelPath[] = TESSERA_MODELS_DIR "/stories260K.gguf";

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::ServerOptions options = Options();
    absl::StatusOr<std::unique_ptr<server::Server>> started = server::Server::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    stub_ = NewStub();
  }

  // What the server starts with; fixtures override pieces of it.
  virtual server::ServerOptions Options() {
    server::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.models = {{kModel, kModelPath}};
    options.threads = 1;
    return options;
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  // A channel with a connection of its own (not shared with other channels).
  std::shared_ptr<grpc::Channel> NewChannel(grpc::ChannelArguments args = {}) const {
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
  }

  std::unique_ptr<pb::InferenceService::Stub> NewStub() const {
    return pb::InferenceService::NewStub(NewChannel());
  }

  // A stub whose connection takes in little unread data (a 1 KiB stream window that does not
  // grow): once its client stops reading, the server's stream backs up within a few hundred
  // tokens, and a generation stays in flight until the client reads or cancels.
  std::unique_ptr<pb::InferenceService::Stub> NewSlowReaderStub() const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
    return pb::InferenceService::NewStub(NewChannel(args));
  }

  pb::InferenceService::Stub& stub() { return *stub_; }

  std::unique_ptr<server::Server> server_;
  std::unique_ptr<pb::InferenceService::Stub> stub_;
};

// Everything one Generate call returned.
struct GenerateResult {
  grpc::Status status;
  std::vector<pb::GenerateResponse> responses;
  // Gathered from all responses.
  std::vector<int32_t> token_ids;
  std::string token_bytes;
  std::string text;
  // From the last response.
  pb::FinishReason finish_reason = pb::FINISH_REASON_UNSPECIFIED;
  pb::Usage usage;
};

inline void Gather(const pb::GenerateResponse& response, GenerateResult& result) {
  result.responses.push_back(response);
  for (const pb::GeneratedToken& token : response.tokens()) {
    result.token_ids.push_back(token.token_id());
    result.token_bytes += token.token_bytes();
  }
  result.text += response.text();
  result.finish_reason = response.finish_reason();
  result.usage = response.usage();
}

// Reads the rest of a Generate stream and finishes it.
inline GenerateResult ReadAll(grpc::ClientReader<pb::GenerateResponse>& reader,
                              GenerateResult result = {}) {
  pb::GenerateResponse response;
  while (reader.Read(&response)) Gather(response, result);
  result.status = reader.Finish();
  return result;
}

inline GenerateResult Generate(pb::InferenceService::Stub& stub,
                               const pb::GenerateRequest& request) {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader =
      stub.Generate(&context, request);
  return ReadAll(*reader);
}

// Greedy decoding of `text` on the default model, at most `max_tokens` tokens.
inline pb::GenerateRequest GreedyRequest(const std::string& text, int max_tokens) {
  pb::GenerateRequest request;
  request.set_model(kModel);
  request.mutable_prompt()->set_text(text);
  request.mutable_sampling()->set_temperature(0);
  request.mutable_stop()->set_max_tokens(max_tokens);
  return request;
}

// The google.rpc.Status a server error carries in its details.
inline google::rpc::Status RpcStatusOf(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()))
      << "error details do not parse: " << status.error_message();
  return details;
}

inline google::rpc::ErrorInfo ErrorInfoOf(const grpc::Status& status) {
  const google::rpc::Status details = RpcStatusOf(status);
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info;
  }
  ADD_FAILURE() << "no ErrorInfo for: " << status.error_message();
  return {};
}

// The field the error's google.rpc.BadRequest names; empty when there is none.
inline std::string BadFieldOf(const grpc::Status& status) {
  const google::rpc::Status details = RpcStatusOf(status);
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::BadRequest bad_request;
    if (any.UnpackTo(&bad_request) && bad_request.field_violations_size() > 0) {
      return bad_request.field_violations(0).field();
    }
  }
  return "";
}

// Expects `status` to be `code` with ErrorInfo `reason` in domain tessera.dev.
inline void ExpectError(const grpc::Status& status, grpc::StatusCode code,
                        const std::string& reason) {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  const google::rpc::ErrorInfo info = ErrorInfoOf(status);
  EXPECT_EQ(info.reason(), reason) << status.error_message();
  EXPECT_EQ(info.domain(), "tessera.dev");
}

}  // namespace tessera::e2e
