// Chat prompts over the wire: a model loaded with a chat template reports it and generates from
// chat messages; the default model, which has none, refuses them.
#include <memory>
#include <string>
#include <vector>

#include "tests/core/chat_model_test_util.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

using ChatTest = E2eTest;

constexpr char kChatModel[] = "chat";

grpc::Status LoadChatModel(pb::InferenceService::Stub& stub, const std::string& path) {
  pb::LoadModelRequest request;
  request.set_name(kChatModel);
  request.set_path(path);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<pb::LoadModelResponse>> reader =
      stub.LoadModel(&context, request);
  pb::LoadModelResponse response;
  while (reader->Read(&response)) {
  }
  return reader->Finish();
}

pb::ModelInfo GetModel(pb::InferenceService::Stub& stub, const std::string& name) {
  pb::GetModelRequest request;
  request.set_name(name);
  pb::GetModelResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(stub.GetModel(&context, request, &response).ok());
  return response.model();
}

std::vector<int32_t> TokenizeWithBos(pb::InferenceService::Stub& stub, const std::string& text) {
  pb::TokenizeRequest request;
  request.set_model(kChatModel);
  request.set_text(text);
  request.set_add_special_tokens(true);
  pb::TokenizeResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(stub.Tokenize(&context, request, &response).ok());
  return {response.token_ids().begin(), response.token_ids().end()};
}

pb::GenerateRequest ChatRequest(const std::string& model, const std::string& content) {
  pb::GenerateRequest request = GreedyRequest("", 10);
  request.set_model(model);
  pb::ChatMessage* message = request.mutable_prompt()->mutable_chat()->add_messages();
  message->set_role("user");
  message->set_content(content);
  return request;
}

TEST_F(ChatTest, GeneratesFromChatMessagesWithTheModelsTemplate) {
  const std::string path = ::testing::TempDir() + "/chat_e2e_model.gguf";
  ASSERT_TRUE(
      testing::WriteStoriesWithChatTemplate(testing::kLlama2StyleChatTemplate, path).ok());
  const grpc::Status loaded = LoadChatModel(stub(), path);
  ASSERT_TRUE(loaded.ok()) << loaded.error_message();
  EXPECT_TRUE(GetModel(stub(), kChatModel).has_chat_template());
  EXPECT_FALSE(GetModel(stub(), kModel).has_chat_template());

  const GenerateResult chat = Generate(stub(), ChatRequest(kChatModel, "Hello"));
  ASSERT_TRUE(chat.status.ok()) << chat.status.error_message();
  // The template renders "<s>[INST] Hello [/INST]", whose <s> is the BOS token.
  const std::vector<int32_t> expected_prompt = TokenizeWithBos(stub(), "[INST] Hello [/INST]");
  EXPECT_EQ(chat.usage.prompt_tokens(), static_cast<int32_t>(expected_prompt.size()));
  EXPECT_EQ(chat.finish_reason, pb::FINISH_REASON_LENGTH);
  EXPECT_EQ(chat.token_ids.size(), 10u);

  pb::GenerateRequest from_ids = GreedyRequest("", 10);
  from_ids.set_model(kChatModel);
  from_ids.mutable_prompt()->mutable_token_ids()->mutable_ids()->Add(expected_prompt.begin(),
                                                                     expected_prompt.end());
  EXPECT_EQ(Generate(stub(), from_ids).token_ids, chat.token_ids);
}

TEST_F(ChatTest, ModelWithoutTemplateRefusesChat) {
  const GenerateResult result = Generate(stub(), ChatRequest(kModel, "Hello"));
  ExpectError(result.status, grpc::StatusCode::FAILED_PRECONDITION, "NO_CHAT_TEMPLATE");
}

}  // namespace
}  // namespace tessera::e2e
