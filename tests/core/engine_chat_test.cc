// Chat prompts: rendering with the model file's chat template, tokenizing the template's
// special tokens as such, and the errors for a missing, unparsable or refusing template.
#include <string>
#include <vector>

#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/chat_model_test_util.h"
#include "tests/core/engine_test_util.h"

namespace tessera {
namespace {

using ::testing::ElementsAreArray;
using testing::GreedyRequest;
using testing::LoadDefaultModel;
using testing::RunToEnd;

std::string ScratchPath(const std::string& name) {
  return ::testing::TempDir() + "/" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" + name;
}

absl::StatusOr<std::unique_ptr<Engine>> LoadWithChatTemplate(const std::string& chat_template) {
  const std::string path = ScratchPath("chat.gguf");
  TESSERA_RETURN_IF_ERROR(testing::WriteStoriesWithChatTemplate(chat_template, path));
  return Engine::Load(EngineOptions{.path = path}, [](LoadStage, int64_t, int64_t) {});
}

GenerationRequest ChatRequest(std::vector<ChatMessage> messages, int32_t max_tokens) {
  GenerationRequest request = GreedyRequest({}, max_tokens);
  request.prompt = std::move(messages);
  return request;
}

TEST(EngineChatTest, ChatPromptIsTheRenderedTemplateWithBosAsItsToken) {
  auto engine = LoadWithChatTemplate(testing::kLlama2StyleChatTemplate);
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_TRUE((*engine)->has_chat_template());
  const Tokenizer& tokenizer = (*engine)->tokenizer();
  ASSERT_TRUE(tokenizer.bos_id().has_value());
  // The template renders "<s>[INST] Hello [/INST]"; "<s>" is the BOS token, not its letters.
  std::vector<int32_t> expected = {*tokenizer.bos_id()};
  const std::vector<int32_t> text = tokenizer.Encode("[INST] Hello [/INST]");
  expected.insert(expected.end(), text.begin(), text.end());

  auto chat = RunToEnd(**engine, ChatRequest({{.role = "user", .content = "Hello"}}, 8));
  ASSERT_TRUE(chat->run_status.ok()) << chat->run_status;
  EXPECT_EQ(chat->outputs.back().prompt_tokens, static_cast<int32_t>(expected.size()));
  EXPECT_EQ(chat->Tokens().size(), 8u);
  // Generation from the chat continues exactly as from its expected tokens given as ids.
  auto from_ids = RunToEnd(**engine, GreedyRequest(expected, 8));
  ASSERT_TRUE(from_ids->run_status.ok()) << from_ids->run_status;
  EXPECT_THAT(chat->Tokens(), ElementsAreArray(from_ids->Tokens()));
}

TEST(EngineChatTest, EmptyMessagesAreInvalid) {
  auto engine = LoadWithChatTemplate(testing::kLlama2StyleChatTemplate);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto sequence = (*engine)->CreateSequence(ChatRequest({}, 4));
  EXPECT_EQ(sequence.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(sequence.status()), "prompt.chat.messages");
}

TEST(EngineChatTest, ModelWithoutTemplateRefusesChat) {
  std::unique_ptr<Engine> engine = LoadDefaultModel();
  ASSERT_NE(engine, nullptr);
  EXPECT_FALSE(engine->has_chat_template());
  auto sequence = engine->CreateSequence(ChatRequest({{.role = "user", .content = "Hi"}}, 4));
  EXPECT_EQ(sequence.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReasonOf(sequence.status()), std::string(reason::kNoChatTemplate));
  EXPECT_THAT(sequence.status().message(), ::testing::HasSubstr("no chat template"));
}

TEST(EngineChatTest, TemplateThatRaisesIsInvalidChat) {
  auto engine = LoadWithChatTemplate(
      "{% if messages[0].role == 'system' %}{{ raise_exception('no system messages') }}"
      "{% endif %}{{ messages[0].content }}");
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto sequence = (*engine)->CreateSequence(
      ChatRequest({{.role = "system", .content = "Be brief"}}, 4));
  EXPECT_EQ(sequence.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(sequence.status()), "prompt.chat");
  EXPECT_THAT(sequence.status().message(), ::testing::HasSubstr("no system messages"));
  // Other conversations pass the same template.
  EXPECT_TRUE(
      (*engine)->CreateSequence(ChatRequest({{.role = "user", .content = "Hi"}}, 4)).ok());
}

TEST(EngineChatTest, TemplateThatDoesNotParseFailsTheLoad) {
  auto engine = LoadWithChatTemplate("{% for m in messages %}{{ m.content }}");
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(engine.status()), std::string(reason::kInvalidModelFile));
  EXPECT_THAT(engine.status().message(), ::testing::HasSubstr("tokenizer.chat_template"));
}

}  // namespace
}  // namespace tessera
