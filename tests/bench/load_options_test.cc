// CheckOptions: the runs that make sense pass, the others name the flag at fault.
#include "bench/load/load_options.h"

#include <functional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::load {
namespace {

using ::testing::HasSubstr;

LoadOptions ClosedLoop() {
  LoadOptions o;
  o.model = "stories";
  o.concurrency = 4;
  o.requests = 12;
  return o;
}

TEST(CheckOptionsTest, AcceptsAClosedAndAnOpenLoop) {
  EXPECT_TRUE(CheckOptions(ClosedLoop()).ok());
  LoadOptions open = ClosedLoop();
  open.concurrency = 0;
  open.rate = 3.5;
  open.max_outstanding = 16;
  open.requests = 0;
  open.duration = absl::Seconds(30);
  EXPECT_TRUE(CheckOptions(open).ok());
}

TEST(CheckOptionsTest, NamesTheFlagAtFault) {
  const std::vector<std::pair<std::function<void(LoadOptions&)>, std::string>> cases = {
      {[](LoadOptions& o) { o.model = ""; }, "--model"},
      {[](LoadOptions& o) { o.rate = 2; }, "--concurrency N (closed loop) and --rate R"},
      {[](LoadOptions& o) { o.concurrency = 0; }, "--concurrency N (closed loop) and --rate R"},
      {[](LoadOptions& o) { o.concurrency = 0, o.rate = 2; }, "--max_outstanding"},
      {[](LoadOptions& o) { o.duration = absl::Seconds(5); }, "--requests N and --duration D"},
      {[](LoadOptions& o) { o.requests = 0; }, "--requests N and --duration D"},
      {[](LoadOptions& o) { o.warmup = -1; }, "--warmup"},
      {[](LoadOptions& o) { o.temperature = -0.5; }, "--temperature"},
      {[](LoadOptions& o) { o.connections = 0; }, "--connections"},
      {[](LoadOptions& o) { o.request_timeout = absl::ZeroDuration(); }, "--request_timeout"},
  };
  for (const auto& [change, flag] : cases) {
    LoadOptions o = ClosedLoop();
    change(o);
    const absl::Status status = CheckOptions(o);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_THAT(status.message(), HasSubstr(flag));
  }
}

TEST(CheckOptionsTest, EveryPromptMustOutgrowTheSharedPrefix) {
  LoadOptions o = ClosedLoop();
  o.prompt_tokens = *LengthMix::Parse("64:1,512:1");
  o.shared_prefix_tokens = 63;
  EXPECT_TRUE(CheckOptions(o).ok());
  o.shared_prefix_tokens = 64;
  EXPECT_THAT(CheckOptions(o).message(), HasSubstr("--shared_prefix_tokens 64"));
}

}  // namespace
}  // namespace tessera::load
