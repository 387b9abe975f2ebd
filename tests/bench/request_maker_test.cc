// RequestMaker: token-id prompts of the drawn lengths, outputs of exactly the drawn length past
// end of sequence, and the same requests for the same seed.
#include "bench/load/request_maker.h"

#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::load {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Each;
using ::testing::Eq;
using ::testing::Ge;
using ::testing::Lt;

LoadOptions Options() {
  LoadOptions o;
  o.model = "stories";
  o.concurrency = 1;
  o.requests = 1;
  o.prompt_tokens = *LengthMix::Parse("16:1,32:1");
  o.output_tokens = *LengthMix::Parse("8:1,24:1");
  o.shared_prefix_tokens = 8;
  o.seed = 11;
  return o;
}

std::vector<int32_t> Pool() {
  std::vector<int32_t> pool;
  for (int32_t id = 300; id < 400; ++id) pool.push_back(id);
  return pool;
}

TEST(RequestMakerTest, TokenIdPromptsAndExactOutputs) {
  const LoadOptions options = Options();
  RequestMaker maker(options, Pool());
  std::set<int> prompt_lengths;
  std::set<int> output_lengths;
  std::vector<int32_t> first_prefix;
  for (int i = 0; i < 200; ++i) {
    const inference::v1::GenerateRequest r = maker.Next();
    EXPECT_EQ(r.model(), "stories");
    ASSERT_TRUE(r.prompt().has_token_ids());
    const auto& ids = r.prompt().token_ids().ids();
    EXPECT_THAT(ids.size(), AnyOf(Eq(16), Eq(32)));
    EXPECT_THAT(std::vector<int32_t>(ids.begin(), ids.end()), Each(AllOf(Ge(300), Lt(400))));
    std::vector<int32_t> prefix(ids.begin(), ids.begin() + 8);
    if (i == 0) first_prefix = prefix;
    EXPECT_EQ(prefix, first_prefix);
    prompt_lengths.insert(ids.size());
    output_lengths.insert(r.stop().max_tokens());
    EXPECT_TRUE(r.stop().ignore_eos());
    EXPECT_EQ(r.sampling().temperature(), 0);
    EXPECT_FALSE(r.sampling().has_seed());  // greedy needs none
  }
  EXPECT_EQ(prompt_lengths, (std::set<int>{16, 32}));
  EXPECT_EQ(output_lengths, (std::set<int>{8, 24}));
}

TEST(RequestMakerTest, TheSeedFixesTheRequests) {
  LoadOptions options = Options();
  options.temperature = 0.8f;
  RequestMaker a(options, Pool());
  RequestMaker b(options, Pool());
  for (int i = 0; i < 20; ++i) {
    const inference::v1::GenerateRequest from_a = a.Next();
    EXPECT_EQ(from_a.SerializeAsString(), b.Next().SerializeAsString());
    EXPECT_TRUE(from_a.sampling().has_seed());
    EXPECT_FLOAT_EQ(from_a.sampling().temperature(), 0.8f);
  }
}

}  // namespace
}  // namespace tessera::load
