// The engine serving a Hugging Face model directory in place: the tiny Qwen2 checkpoint with a
// tokenizer, chat template and generation_config.json (hf_directory_test_util.h) generates
// transformers' greedy tokens, ends at every end-of-sequence id generation_config.json lists,
// and renders chats with the directory's template.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/engine.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/engine_test_util.h"
#include "tests/core/hf_directory_test_util.h"

namespace tessera {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::GreedyRequest;
using testing::ReadReferencePrompt;
using testing::ReferencePrompt;
using testing::RunToEnd;
using testing::ScratchDirectory;

// Index of the reference greedy token listed as an end-of-sequence id; the tokens before it
// differ from it, so generation must run up to it and stop right after.
constexpr size_t kFirstEosIndex = 5;

absl::StatusOr<std::unique_ptr<Engine>> LoadDirectory(const std::string& dir) {
  return Engine::Load(EngineOptions{.path = dir}, [](LoadStage, int64_t, int64_t) {});
}

class HfDirectoryEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteTinyQwen2Directory(
        dir_.path(), {reference_.greedy[kFirstEosIndex], testing::kEndOfTextId});
  }

  GenerationRequest ReferenceRequest() const {
    return GreedyRequest(reference_.tokens, static_cast<int32_t>(reference_.greedy.size()));
  }

  const ReferencePrompt reference_ = ReadReferencePrompt();
  ScratchDirectory dir_{"model"};
};

TEST_F(HfDirectoryEngineTest, LoadsAsTheArchitectureWithTheVocabularyPaddedToTheEmbeddings) {
  auto engine = LoadDirectory(dir_.path());
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ((*engine)->model_info().architecture, "qwen2");
  EXPECT_EQ((*engine)->model_info().vocab_size, 512);
  const Tokenizer& tokenizer = (*engine)->tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), 512);
  EXPECT_EQ(tokenizer.eos_id(), testing::kImEndId);
  EXPECT_EQ(tokenizer.TokenText(testing::kImStartId), "<|im_start|>");
  // Rows beyond the tokenizer's ids are unused padding, as llama.cpp's converter names them.
  EXPECT_EQ(tokenizer.TokenText(testing::kSpecialTokensEnd), "[PAD503]");
  EXPECT_EQ(tokenizer.TokenText(511), "[PAD511]");
  EXPECT_EQ(tokenizer.TokenBytes(511), "");
}

TEST_F(HfDirectoryEngineTest, GreedyRunIgnoringEosGivesTransformersTokens) {
  auto engine = LoadDirectory(dir_.path());
  ASSERT_TRUE(engine.ok()) << engine.status();
  GenerationRequest request = ReferenceRequest();
  request.stop.ignore_eos = true;
  auto run = RunToEnd(**engine, std::move(request));
  ASSERT_TRUE(run->run_status.ok()) << run->run_status;
  EXPECT_THAT(run->Tokens(), ElementsAreArray(reference_.greedy));
  EXPECT_EQ(run->finish_reason(), FinishReason::kLength);
}

TEST_F(HfDirectoryEngineTest, GenerationEndsAtTheFirstIdOfGenerationConfig) {
  auto engine = LoadDirectory(dir_.path());
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto run = RunToEnd(**engine, ReferenceRequest());
  ASSERT_TRUE(run->run_status.ok()) << run->run_status;
  EXPECT_THAT(run->Tokens(), ElementsAreArray(reference_.greedy.begin(),
                                              reference_.greedy.begin() + kFirstEosIndex + 1));
  EXPECT_EQ(run->finish_reason(), FinishReason::kEndOfSequence);
}

TEST_F(HfDirectoryEngineTest, GenerationEndsAtTheSecondIdOfGenerationConfig) {
  constexpr size_t kSecondEosIndex = 3;
  testing::WriteTinyQwen2Directory(
      dir_.path(), {testing::kEndOfTextId, reference_.greedy[kSecondEosIndex]});
  auto engine = LoadDirectory(dir_.path());
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto run = RunToEnd(**engine, ReferenceRequest());
  ASSERT_TRUE(run->run_status.ok()) << run->run_status;
  EXPECT_THAT(run->Tokens(), ElementsAreArray(reference_.greedy.begin(),
                                              reference_.greedy.begin() + kSecondEosIndex + 1));
  EXPECT_EQ(run->finish_reason(), FinishReason::kEndOfSequence);
}

TEST_F(HfDirectoryEngineTest, ChatIsRenderedWithTheDirectoryTemplate) {
  auto engine = LoadDirectory(dir_.path());
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_TRUE((*engine)->has_chat_template());
  const Tokenizer& tokenizer = (*engine)->tokenizer();
  // "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n", special tokens as such.
  std::vector<int32_t> expected = {testing::kImStartId};
  for (const int32_t id : tokenizer.Encode("user\nhi there")) expected.push_back(id);
  expected.push_back(testing::kImEndId);
  for (const int32_t id : tokenizer.Encode("\n")) expected.push_back(id);
  expected.push_back(testing::kImStartId);
  for (const int32_t id : tokenizer.Encode("assistant\n")) expected.push_back(id);

  GenerationRequest chat = GreedyRequest({}, 4);
  chat.prompt = std::vector<ChatMessage>{{.role = "user", .content = "hi there"}};
  chat.stop.ignore_eos = true;
  auto from_chat = RunToEnd(**engine, std::move(chat));
  ASSERT_TRUE(from_chat->run_status.ok()) << from_chat->run_status;
  EXPECT_EQ(from_chat->outputs.back().prompt_tokens, static_cast<int32_t>(expected.size()));
  // Generation from the chat continues exactly as from its expected tokens given as ids.
  GenerationRequest from_ids_request = GreedyRequest(expected, 4);
  from_ids_request.stop.ignore_eos = true;
  auto from_ids = RunToEnd(**engine, std::move(from_ids_request));
  ASSERT_TRUE(from_ids->run_status.ok()) << from_ids->run_status;
  EXPECT_THAT(from_chat->Tokens(), ElementsAreArray(from_ids->Tokens()));
}

TEST_F(HfDirectoryEngineTest, DirectoryWithoutTokenizerIsNotFound) {
  std::filesystem::remove(std::filesystem::path(dir_.path()) / "tokenizer.json");
  auto engine = LoadDirectory(dir_.path());
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(engine.status()), std::string(reason::kModelFileNotFound));
  EXPECT_THAT(engine.status().message(), HasSubstr("tokenizer.json"));
}

TEST_F(HfDirectoryEngineTest, TokenizerLargerThanTheVocabularyIsInvalid) {
  nlohmann::json tokenizer = testing::TinyTokenizerJson();
  tokenizer["added_tokens"].push_back({{"id", 600}, {"content", "<|beyond|>"}, {"special", true}});
  testing::WriteJson(std::filesystem::path(dir_.path()) / "tokenizer.json", tokenizer);
  auto engine = LoadDirectory(dir_.path());
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(engine.status()), std::string(reason::kInvalidModelFile));
  // Ids 0..600: 601 tokens, for 512 embedding rows.
  EXPECT_THAT(engine.status().message(), HasSubstr("601 tokens"));
  EXPECT_THAT(engine.status().message(), HasSubstr("vocab_size 512"));
}

TEST_F(HfDirectoryEngineTest, EosIdOutsideTheVocabularyFailsTheLoad) {
  testing::WriteTinyQwen2Directory(dir_.path(), {testing::kImEndId, 512});
  auto engine = LoadDirectory(dir_.path());
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(engine.status()), std::string(reason::kInvalidModelFile));
  EXPECT_THAT(engine.status().message(), HasSubstr("eos_token_ids holds token id 512"));
}

}  // namespace
}  // namespace tessera
