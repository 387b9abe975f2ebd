// The default model reproduces the greedy continuation that llama2.c's reference program
// prints for it (tests/data/llama2c/stories260K.md), word for word.
#include <fstream>
#include <sstream>

#include <filesystem>

#include "core/format/llama2c_to_gguf.h"
#include "gtest/gtest.h"
#include "tests/core/engine_test_util.h"

namespace tessera {
namespace {

// The text block under llama2.c's `./run ... -t 0.0` command in the model's documentation.
std::string ReferenceGreedyText() {
  std::ifstream file(std::string(TESSERA_TEST_DATA_DIR) + "/llama2c/stories260K.md");
  std::stringstream contents;
  contents << file.rdbuf();
  const std::string doc = contents.str();
  const std::string command = "$ ./run stories260K/stories260K.bin -z stories260K/tok512.bin -t 0.0\n";
  const size_t start = doc.find(command);
  if (start == std::string::npos) return "";
  const size_t text_start = start + command.size();
  const size_t end = doc.find("\n```", text_start);
  return doc.substr(text_start, end - text_start);
}

TEST(Stories260kTest, GreedyFromBosMatchesLlama2cReference) {
  const std::string expected = ReferenceGreedyText();
  ASSERT_FALSE(expected.empty());
  std::unique_ptr<Engine> engine = testing::LoadDefaultModel();
  ASSERT_NE(engine, nullptr);
  // run.c generates from BOS alone for 256 positions (-n 256 by default).
  auto sink = testing::RunToEnd(*engine, testing::GreedyRequest({1}, 256));
  ASSERT_TRUE(sink->run_status.ok()) << sink->run_status;
  EXPECT_EQ(sink->Text(), expected);
}

TEST(Stories260kTest, ConvertedLlama2cCheckpointGeneratesTheSameTokens) {
  const std::string data = TESSERA_TEST_DATA_DIR;
  const std::string converted =
      (std::filesystem::path(::testing::TempDir()) / "stories260K_converted.gguf").string();
  ASSERT_TRUE(llama2c::ConvertToGguf(data + "/llama2c/stories260K.bin",
                                     data + "/llama2c/tok512.bin", converted)
                  .ok());
  auto engine = Engine::Load({.path = converted}, [](LoadStage, int64_t, int64_t) {});
  ASSERT_TRUE(engine.ok()) << engine.status();
  std::unique_ptr<Engine> shipped = testing::LoadDefaultModel();
  ASSERT_NE(shipped, nullptr);
  auto from_converted = testing::RunToEnd(**engine, testing::GreedyRequest({1}, 256));
  auto from_shipped = testing::RunToEnd(*shipped, testing::GreedyRequest({1}, 256));
  EXPECT_EQ(from_converted->Tokens(), from_shipped->Tokens());
  EXPECT_EQ(from_converted->Text(), ReferenceGreedyText());
  // The tokenizers agree too.
  const std::string text = "Once upon a time, Lily found a red ball.";
  EXPECT_EQ((*engine)->tokenizer().Encode(text), shipped->tokenizer().Encode(text));
  std::filesystem::remove(converted);
}

}  // namespace
}  // namespace tessera
