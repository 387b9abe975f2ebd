// The hf_to_gguf binary: it converts a complete Hugging Face model directory
// (hf_directory_test_util.h) into a GGUF file the engine serves with transformers' greedy tokens
// and the directory's end-of-sequence ids, and fails with exit code 1 and a message naming a
// directory that does not exist.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/engine.h"
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

const std::string kBinary = std::string(TESSERA_BINARY_DIR) + "/tools/hf_to_gguf";

struct ToolResult {
  int exit_code = -1;  // 128 + the signal number when killed by one
  std::string err;
};

// Runs hf_to_gguf with `args` to the end, its stderr written to `err_path`.
ToolResult RunTool(const std::vector<std::string>& args, const std::string& err_path) {
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (std::string& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(err, STDERR_FILENO);
    execv(c_argv[0], c_argv.data());
    _exit(127);
  }
  ToolResult result;
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid) {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  return result;
}

class HfToGgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kBinary.c_str(), X_OK), 0) << kBinary << " is not built";
  }

  std::string ScratchFile(const std::string& name) const {
    return (std::filesystem::path(scratch_.path()) / name).string();
  }

  const ReferencePrompt reference_ = ReadReferencePrompt();
  ScratchDirectory scratch_{"scratch"};
};

TEST_F(HfToGgufTest, ConvertedFileServesTransformersGreedyTokensAndEndsAtListedEos) {
  constexpr size_t kEosIndex = 5;
  ScratchDirectory model_dir("model");
  testing::WriteTinyQwen2Directory(model_dir.path(), {reference_.greedy[kEosIndex]});
  const std::string gguf_path = ScratchFile("model.gguf");

  const ToolResult result = RunTool({model_dir.path(), gguf_path}, ScratchFile("stderr"));
  ASSERT_EQ(result.exit_code, 0) << result.err;

  auto engine = Engine::Load(EngineOptions{.path = gguf_path}, [](LoadStage, int64_t, int64_t) {});
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ((*engine)->model_info().architecture, "qwen2");
  EXPECT_TRUE((*engine)->has_chat_template());
  const auto max_tokens = static_cast<int32_t>(reference_.greedy.size());
  GenerationRequest ignoring_eos = GreedyRequest(reference_.tokens, max_tokens);
  ignoring_eos.stop.ignore_eos = true;
  auto greedy = RunToEnd(**engine, std::move(ignoring_eos));
  ASSERT_TRUE(greedy->run_status.ok()) << greedy->run_status;
  EXPECT_THAT(greedy->Tokens(), ElementsAreArray(reference_.greedy));

  auto until_eos = RunToEnd(**engine, GreedyRequest(reference_.tokens, max_tokens));
  ASSERT_TRUE(until_eos->run_status.ok()) << until_eos->run_status;
  EXPECT_THAT(until_eos->Tokens(), ElementsAreArray(reference_.greedy.begin(),
                                                    reference_.greedy.begin() + kEosIndex + 1));
  EXPECT_EQ(until_eos->finish_reason(), FinishReason::kEndOfSequence);
}

TEST_F(HfToGgufTest, MissingDirectoryExitsWithOneNamingIt) {
  const std::string missing = ScratchFile("no-such-model");
  const std::string gguf_path = ScratchFile("out.gguf");
  const ToolResult result = RunTool({missing, gguf_path}, ScratchFile("stderr"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("hf_to_gguf: "));
  EXPECT_THAT(result.err, HasSubstr(missing));
  EXPECT_FALSE(std::filesystem::exists(gguf_path));
}

TEST_F(HfToGgufTest, WrongArgumentCountPrintsUsage) {
  const ToolResult result = RunTool({ScratchFile("only-one-argument")}, ScratchFile("stderr"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("usage: "));
}

}  // namespace
}  // namespace tessera
