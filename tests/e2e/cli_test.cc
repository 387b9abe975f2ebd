// End to end: the real `tessera-server` binary serving stories260K on a loopback port, driven by
// the real `tessera` command-line client, as a user would run them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kServerBinary = std::string(TESSERA_BINARY_DIR) + "/server/tessera-server";
const std::string kClientBinary = std::string(TESSERA_BINARY_DIR) + "/clients/cpp/tessera";
const std::string kModelPath = std::string(TESSERA_MODELS_DIR) + "/stories260K.gguf";

// Bounds for waiting on the processes, so that a hung server or client fails the test instead of
// stalling it.
constexpr std::chrono::seconds kServerStartTimeout(60);
constexpr std::chrono::seconds kCommandTimeout(120);

bool IsExecutable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// A loopback port nothing listens on right now (the kernel's pick for an ephemeral bind).
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  return bound ? ntohs(address.sin_port) : -1;
}

bool AcceptsConnections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

// A child process with stdout and stderr sent to files; killed when destroyed while running.
class ChildProcess {
 public:
  // `log_prefix`.out and `log_prefix`.err receive the child's output.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_prefix)
      : out_path_(log_prefix + ".out"), err_path_(log_prefix + ".err") {
    std::vector<char*> c_argv;
    for (const std::string& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
    c_argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls until exec. The child dies with the test process, so a
      // crashed test leaves no server behind.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      execv(c_argv[0], c_argv.data());
      _exit(127);
    }
  }

  ~ChildProcess() {
    if (!exit_code_.has_value() && pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // The exit code (128 + signal number when killed by a signal) once the child has ended.
  std::optional<int> ExitCode() {
    int status = 0;
    if (!exit_code_.has_value() && pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return exit_code_;
  }

  // Waits up to `timeout` for the child to end; nullopt when it is still running.
  std::optional<int> Wait(std::chrono::steady_clock::duration timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!ExitCode().has_value() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return ExitCode();
  }

  // Asks the child to shut down, then kills it if it has not ended within `grace`.
  void Stop(std::chrono::steady_clock::duration grace) {
    if (ExitCode().has_value() || pid_ <= 0) return;
    kill(pid_, SIGTERM);
    if (Wait(grace).has_value()) return;
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }

  bool started() const { return pid_ > 0; }
  std::string Stdout() const { return ReadFile(out_path_); }
  std::string Stderr() const { return ReadFile(err_path_); }

 private:
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// One vocabulary entry per token id, as llama2.c's tok512.bin stores them: `int32
// max_token_length`, then per token `float score, int32 length, char text[length]`. The file
// writes SentencePiece's "▁" as a space.
std::vector<std::string> ReadLlama2cVocabulary(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  int32_t max_token_length = 0;
  file.read(reinterpret_cast<char*>(&max_token_length), sizeof(max_token_length));
  std::vector<std::string> vocabulary;
  float score = 0;
  int32_t length = 0;
  while (file.read(reinterpret_cast<char*>(&score), sizeof(score)) &&
         file.read(reinterpret_cast<char*>(&length), sizeof(length))) {
    std::string text(length, '\0');
    file.read(text.data(), length);
    vocabulary.push_back(text);
  }
  return vocabulary;
}

std::string SpacesAsSentencePieceMarks(const std::string& text) {
  std::string marked;
  for (char c : text) marked += c == ' ' ? std::string("\u2581") : std::string(1, c);
  return marked;
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!IsExecutable(kServerBinary) || !IsExecutable(kClientBinary)) return;
    char scratch_template[] = "/tmp/tessera_cli_test.XXXXXX";
    scratch_dir_ = new std::string(mkdtemp(scratch_template));
    port_ = FreeLoopbackPort();
    server_ = new ChildProcess({kServerBinary, "--listen", "127.0.0.1:" + std::to_string(port_),
                                "--model", "stories=" + kModelPath, "--threads", "1"},
                               *scratch_dir_ + "/server");
    const auto deadline = std::chrono::steady_clock::now() + kServerStartTimeout;
    while (server_->started() && !server_->ExitCode().has_value() &&
           std::chrono::steady_clock::now() < deadline) {
      if (AcceptsConnections(port_)) {
        server_ready_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  static void TearDownTestSuite() {
    if (server_ != nullptr) server_->Stop(std::chrono::seconds(10));
    delete server_;
    server_ = nullptr;
    if (scratch_dir_ != nullptr) std::filesystem::remove_all(*scratch_dir_);
    delete scratch_dir_;
    scratch_dir_ = nullptr;
  }

  void SetUp() override {
    for (const std::string& binary : {kServerBinary, kClientBinary}) {
      if (!IsExecutable(binary)) GTEST_SKIP() << "not built: " << binary;
    }
    ASSERT_TRUE(server_ready_) << "tessera-server did not accept connections on port " << port_
                               << " within " << kServerStartTimeout.count() << "s; its stderr:\n"
                               << server_->Stderr();
  }

  // Runs `tessera --server <ours> --timeout ... args...` to completion.
  static CommandResult Tessera(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kClientBinary, "--server",
                                     "127.0.0.1:" + std::to_string(port_), "--timeout", "60s"};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess client(argv, *scratch_dir_ + "/client");
    const std::optional<int> exit_code = client.Wait(kCommandTimeout);
    EXPECT_TRUE(exit_code.has_value()) << "tessera did not finish within "
                                       << kCommandTimeout.count() << "s";
    return {.exit_code = exit_code.value_or(-1), .out = client.Stdout(), .err = client.Stderr()};
  }

  static inline std::string* scratch_dir_ = nullptr;
  static inline ChildProcess* server_ = nullptr;
  static inline int port_ = -1;
  static inline bool server_ready_ = false;
};

TEST_F(CliTest, GreedyGenerationContinuesLikeLlama2cReference) {
  // tests/data/llama2c/stories260K.md: llama2.c's greedy output for this model from BOS begins
  // "Once upon a time, there was a little girl named Lily."; given its first words as the
  // prompt, greedy decoding must continue the same way.
  const CommandResult result = Tessera({"generate", "--model", "stories", "--max_tokens", "40",
                                        "--temperature", "0", "Once upon a time"});

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith(", there was a little girl named Lily."));
  // 40 tokens end well before the reference text does, so the length limit stopped it; the
  // prompt is BOS and the four tokens of "Once upon a time".
  EXPECT_THAT(result.err, HasSubstr("finish_reason=length"));
  EXPECT_THAT(result.err, HasSubstr("prompt_tokens=5 "));
  EXPECT_THAT(result.err, HasSubstr("completion_tokens=40"));
}

TEST_F(CliTest, EchoPrintsThePromptBeforeTheCompletion) {
  const CommandResult result = Tessera({"generate", "--model", "stories", "--max_tokens", "12",
                                        "--temperature", "0", "--echo", "Once upon a time"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Prompt and greedy continuation together: the reference text's first sentence.
  EXPECT_THAT(result.out, StartsWith("Once upon a time, there was a little girl named Lily."));
}

TEST_F(CliTest, PriorityIsPassedAndCheckedBeforeCalling) {
  const CommandResult high =
      Tessera({"generate", "--model", "stories", "--max_tokens", "12", "--temperature", "0",
               "--priority", "high", "Once upon a time"});
  ASSERT_EQ(high.exit_code, 0) << high.err;
  EXPECT_THAT(high.out, StartsWith(", there was a little girl named Lily."));
  const CommandResult unknown =
      Tessera({"generate", "--model", "stories", "--priority", "urgent", "Once upon a time"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, HasSubstr("--priority: expected low, normal or high, got 'urgent'"));
}

TEST_F(CliTest, EmptyPromptIsInvalidArgument) {
  const CommandResult result =
      Tessera({"generate", "--model", "stories", "--max_tokens", "4", ""});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(result.err, HasSubstr("prompt.text"));
}

TEST_F(CliTest, ListShowsTheModelLoadedAtStartup) {
  const CommandResult result = Tessera({"list"});

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("stories "));
  EXPECT_THAT(result.out, HasSubstr("llama"));
  EXPECT_THAT(result.out, HasSubstr(kModelPath));
}

TEST_F(CliTest, TokenizePrintsIdsWithTheirVocabularyPieces) {
  const std::string text = "Once upon a time";
  const CommandResult result = Tessera({"tokenize", "--model", "stories", text});
  ASSERT_EQ(result.exit_code, 0) << result.err;

  // The same model's vocabulary as llama2.c exported it, read independently of the GGUF file.
  const std::vector<std::string> vocabulary =
      ReadLlama2cVocabulary(std::string(TESSERA_TEST_DATA_DIR) + "/llama2c/tok512.bin");
  ASSERT_EQ(vocabulary.size(), 512u);
  std::istringstream lines(result.out);
  std::string line;
  std::vector<std::string> ids;
  std::string pieces;
  while (std::getline(lines, line)) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << "not '<id>\\t<piece>': " << line;
    const int id = std::stoi(line.substr(0, tab));
    const std::string piece = line.substr(tab + 1);
    ASSERT_GE(id, 0);
    ASSERT_LT(id, 512);
    EXPECT_EQ(piece, SpacesAsSentencePieceMarks(vocabulary[id])) << "token " << id;
    ids.push_back(std::to_string(id));
    pieces += piece;
  }
  // SentencePiece marks the start and each space with "▁"; the pieces spell the text.
  EXPECT_EQ(pieces, SpacesAsSentencePieceMarks(" " + text));

  std::vector<std::string> detokenize = {"detokenize", "--model", "stories"};
  detokenize.insert(detokenize.end(), ids.begin(), ids.end());
  const CommandResult round_trip = Tessera(detokenize);
  ASSERT_EQ(round_trip.exit_code, 0) << round_trip.err;
  EXPECT_THAT(round_trip.out, AnyOf(Eq(text + "\n"), Eq(" " + text + "\n")));
}

TEST_F(CliTest, LoadListUnloadASecondModel) {
  const CommandResult load = Tessera({"load", "second", kModelPath});
  ASSERT_EQ(load.exit_code, 0) << load.err;
  // stories260K.md: a llama with dim 64, 5 layers, 8 heads, 4 KV heads and 512 tokens.
  EXPECT_THAT(load.out, HasSubstr("architecture:             llama\n"));
  EXPECT_THAT(load.out, HasSubstr("vocab_size:               512\n"));
  EXPECT_THAT(load.out, HasSubstr("hidden_size:              64\n"));
  EXPECT_THAT(load.out, HasSubstr("num_layers:               5\n"));
  EXPECT_THAT(load.out, HasSubstr("num_attention_heads:      8\n"));
  EXPECT_THAT(load.out, HasSubstr("num_kv_heads:             4\n"));
  EXPECT_THAT(Tessera({"list"}).out, HasSubstr("second "));

  const CommandResult unload = Tessera({"unload", "second"});
  ASSERT_EQ(unload.exit_code, 0) << unload.err;
  const CommandResult list = Tessera({"list"});
  EXPECT_THAT(list.out, Not(HasSubstr("second ")));
  EXPECT_THAT(list.out, HasSubstr("stories "));
}

TEST_F(CliTest, UnknownModelFailsWithNotFoundAndItsReason) {
  const CommandResult result =
      Tessera({"generate", "--model", "no_such_model", "--max_tokens", "1", "hello"});

  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, StartsWith("error: NOT_FOUND: "));
  EXPECT_THAT(result.err, HasSubstr("[reason=MODEL_NOT_FOUND]"));
  EXPECT_EQ(result.out, "");
}

TEST_F(CliTest, BadCommandLinePrintsUsage) {
  const CommandResult unknown = Tessera({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command 'frobnicate'"));

  const CommandResult missing_model = Tessera({"generate", "hello"});
  EXPECT_EQ(missing_model.exit_code, 2);
  EXPECT_THAT(missing_model.err, HasSubstr("--model"));

  const CommandResult help = Tessera({"help", "generate"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, StartsWith("usage: tessera "));
  EXPECT_THAT(help.out, HasSubstr("--max_tokens N"));
}

}  // namespace
