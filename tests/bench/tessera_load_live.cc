// tessera-load end to end: the binary against a live tessera-server with stories260K loaded as
// "stories" (tests/clients/with-server puts its address in TESSERA_ADDRESS). Every run's table
// and JSON are checked against what the run must have done.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

struct LoadRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::string json;  // the --json file; empty when none was written
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

class TesseraLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* address = std::getenv("TESSERA_ADDRESS");
    ASSERT_NE(address, nullptr) << "run through tests/clients/with-server";
    address_ = address;
    char scratch[] = "/tmp/tessera_load_test.XXXXXX";
    ASSERT_NE(mkdtemp(scratch), nullptr);
    scratch_ = scratch;
  }
  void TearDown() override {
    if (!scratch_.empty()) std::filesystem::remove_all(scratch_);
  }

  // tessera-load --server <ours> --json <scratch>/report.json ARGS, to completion.
  LoadRun Load(const std::string& args) {
    const std::filesystem::path json = scratch_ / "report.json";
    const std::filesystem::path out = scratch_ / "out";
    const std::filesystem::path err = scratch_ / "err";
    std::filesystem::remove(json);
    const std::string command = std::string(TESSERA_LOAD_BINARY) + " --server " + address_ +
                                " --json " + json.string() + " " + args + " >" + out.string() +
                                " 2>" + err.string();
    const int status = std::system(command.c_str());
    return {.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            .out = ReadFile(out),
            .err = ReadFile(err),
            .json = std::filesystem::exists(json) ? ReadFile(json) : ""};
  }

  std::string address_;
  std::filesystem::path scratch_;
};

TEST_F(TesseraLoadTest, ClosedLoopCountsEveryTokenOfEveryRequest) {
  const LoadRun run = Load(
      "--model stories --concurrency 4 --requests 12 --warmup 2 --prompt_tokens 16 "
      "--output_tokens 8");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("closed loop: 4 streams; 12 requests after 2 warm-up"));
  // 12 requests, all succeeded, 12 x 8 = 96 output tokens.
  EXPECT_THAT(run.out, HasSubstr("| 12 | 12 | 0 | "));
  EXPECT_THAT(run.out, HasSubstr("errors: none"));

  const Json json = Json::parse(run.json);
  EXPECT_EQ(json.at("options").at("loop"), "closed");
  EXPECT_EQ(json.at("options").at("concurrency"), 4);
  EXPECT_EQ(json.at("options").at("requests"), 12);
  // A vocabulary of 512 (stories260K.md) and a context of 2048 (as errors_e2e_test.cc has it).
  // Its 3 control tokens (unknown, BOS, EOS) never come back from tokenizing text.
  EXPECT_EQ(json.at("model").at("vocab_size"), 512);
  EXPECT_EQ(json.at("model").at("context_length"), 2048);
  EXPECT_GT(json.at("model").at("ordinary_tokens"), 100);
  EXPECT_LE(json.at("model").at("ordinary_tokens"), 509);
  EXPECT_EQ(json.at("warmup").at("requests"), 2);
  EXPECT_EQ(json.at("warmup").at("failed"), 0);

  const Json& results = json.at("results");
  EXPECT_EQ(results.at("requests"), 12);
  EXPECT_EQ(results.at("succeeded"), 12);
  EXPECT_EQ(results.at("failed"), 0);
  EXPECT_EQ(results.at("prompt_tokens"), 12 * 16);
  EXPECT_EQ(results.at("output_tokens"), 12 * 8);
  EXPECT_EQ(results.at("mean_output_tokens"), 8.0);
  EXPECT_EQ(results.at("unexpected_lengths"), 0);
  EXPECT_EQ(results.at("errors"), Json::array());
  // A first token per request, then 7 gaps each.
  EXPECT_EQ(results.at("time_to_first_token_ms").at("count"), 12);
  EXPECT_EQ(results.at("inter_token_ms").at("count"), 12 * 7);
  const double seconds = results.at("seconds");
  EXPECT_GT(seconds, 0);
  EXPECT_DOUBLE_EQ(results.at("output_tokens_per_second").get<double>(), 96 / seconds);
  EXPECT_DOUBLE_EQ(results.at("requests_per_second").get<double>(), 12 / seconds);
  for (const char* figure : {"time_to_first_token_ms", "inter_token_ms", "request_latency_ms"}) {
    const Json& d = results.at(figure);
    // Tokens of steps the server writes as one message (it does when the client falls behind, as
    // on a loaded machine) arrive together: gaps of 0, possibly most of them.
    if (std::string(figure) == "inter_token_ms") {
      EXPECT_GE(d.at("p50").get<double>(), 0) << figure;
    } else {
      EXPECT_GT(d.at("p50").get<double>(), 0) << figure;
    }
    EXPECT_LE(d.at("p50").get<double>(), d.at("p90").get<double>()) << figure;
    EXPECT_LE(d.at("p90").get<double>(), d.at("p99").get<double>()) << figure;
  }
  EXPECT_LE(results.at("time_to_first_token_ms").at("p99").get<double>(),
            results.at("request_latency_ms").at("p99").get<double>());
  // The server's engine over the measured phase: each request's 16 prompt tokens, then each
  // output token but the last fed back, in passes that batch the 4 streams' tokens; the 2
  // warm-up requests, sent just before the first measured one, may still be running then.
  const Json& engine = json.at("engine");
  EXPECT_GE(engine.at("step_tokens"), 12 * (16 + 7));
  EXPECT_LE(engine.at("step_tokens"), 14 * (16 + 7));
  EXPECT_GE(engine.at("steps"), 8 * 12 / 4);
  EXPECT_LE(engine.at("steps"), 8 * 14);
  EXPECT_GT(engine.at("forward_fraction").get<double>(), 0);
  EXPECT_LE(engine.at("forward_fraction").get<double>(), 1);
}

TEST_F(TesseraLoadTest, OpenLoopWithMixesAndASharedPrefix) {
  const LoadRun run = Load(
      "--model stories --rate 50 --max_outstanding 4 --requests 10 --prompt_tokens 12:1,24:1 "
      "--output_tokens 4:1,8:1 --shared_prefix_tokens 8 --seed 3");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("open loop: Poisson arrivals at 50 requests/s, at most 4"));
  const Json json = Json::parse(run.json);
  EXPECT_EQ(json.at("options").at("loop"), "open");
  EXPECT_EQ(json.at("options").at("rate"), 50.0);
  EXPECT_EQ(json.at("options").at("shared_prefix_tokens"), 8);
  const Json& results = json.at("results");
  EXPECT_EQ(results.at("succeeded"), 10);
  EXPECT_EQ(results.at("unexpected_lengths"), 0);
  // Each request 4 or 8 tokens, each prompt 12 or 24.
  const int output_tokens = results.at("output_tokens");
  const int prompt_tokens = results.at("prompt_tokens");
  EXPECT_GE(output_tokens, 10 * 4);
  EXPECT_LE(output_tokens, 10 * 8);
  EXPECT_EQ(output_tokens % 4, 0);
  EXPECT_GE(prompt_tokens, 10 * 12);
  EXPECT_LE(prompt_tokens, 10 * 24);
  EXPECT_EQ(prompt_tokens % 12, 0);
  EXPECT_EQ(results.at("inter_token_ms").at("count"), output_tokens - 10);
}

TEST_F(TesseraLoadTest, DurationSendsRequestsForThatLong) {
  const LoadRun run =
      Load("--model stories --concurrency 2 --duration 1s --prompt_tokens 8 --output_tokens 4");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const Json json = Json::parse(run.json);
  EXPECT_TRUE(json.at("options").at("requests").is_null());
  EXPECT_EQ(json.at("options").at("duration_seconds"), 1.0);
  const Json& results = json.at("results");
  EXPECT_GE(results.at("succeeded"), 2);
  EXPECT_EQ(results.at("failed"), 0);
  EXPECT_EQ(results.at("output_tokens"), 4 * results.at("succeeded").get<int>());
  EXPECT_GE(results.at("seconds"), 0.99);
}

TEST_F(TesseraLoadTest, RequestsTheServerRejectsAreCountedByStatusCode) {
  // 2000 prompt tokens and 100 more to generate exceed the model's 2048-token context: the
  // server refuses every request with INVALID_ARGUMENT (CONTEXT_LENGTH_EXCEEDED). The run still
  // reports, and exits with 3.
  const LoadRun run = Load(
      "--model stories --concurrency 4 --requests 12 --prompt_tokens 2000 --output_tokens 100");
  EXPECT_EQ(run.exit_code, 3) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("| 12 | 0 | 12 | "));
  EXPECT_THAT(run.out, HasSubstr("| INVALID_ARGUMENT | 12 | "));
  const Json json = Json::parse(run.json);
  const Json& results = json.at("results");
  EXPECT_EQ(results.at("requests"), 12);
  EXPECT_EQ(results.at("succeeded"), 0);
  EXPECT_EQ(results.at("failed"), 12);
  EXPECT_EQ(results.at("output_tokens"), 0);
  ASSERT_EQ(results.at("errors").size(), 1u);
  EXPECT_EQ(results.at("errors")[0].at("code"), "INVALID_ARGUMENT");
  EXPECT_EQ(results.at("errors")[0].at("code_number"), 3);
  EXPECT_EQ(results.at("errors")[0].at("requests"), 12);
  EXPECT_THAT(results.at("errors")[0].at("first_message").get<std::string>(), HasSubstr("context"));
}

TEST_F(TesseraLoadTest, UnknownModelStopsBeforeAnyLoadWithNotFound) {
  // GetModel fails first, so not a request is sent: exit 1, the status on stderr, no report.
  const LoadRun run = Load("--model no_such_model --concurrency 4 --requests 12");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(run.err, HasSubstr("GetModel(no_such_model)"));
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.json, "");
}

TEST_F(TesseraLoadTest, BadFlagsExitWithTwo) {
  for (const char* args :
       {"--model stories --concurrency 2 --rate 3", "--model stories --prompt_tokens 16:x",
        "--model stories --prompt_tokens 16 --shared_prefix_tokens 16", ""}) {
    const LoadRun run = Load(args);
    EXPECT_EQ(run.exit_code, 2) << args << "\n" << run.err;
    EXPECT_THAT(run.err, HasSubstr("tessera-load: ")) << args;
  }
}

}  // namespace
