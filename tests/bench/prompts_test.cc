// PromptMaker: exact lengths, the shared prefix in every prompt, tokens only from the pool.
#include "bench/load/prompts.h"

#include <algorithm>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::load {
namespace {

using ::testing::AnyOfArray;
using ::testing::Each;
using ::testing::ElementsAreArray;
using ::testing::Not;

const std::vector<int32_t> kPool = {7, 11, 300, 301, 302, 4095};

TEST(PromptMakerTest, PromptsHaveTheLengthAskedForFromThePool) {
  PromptMaker maker(kPool, 0, 1);
  for (const int32_t length : {1, 2, 17, 512}) {
    const std::vector<int32_t> prompt = maker.Make(length);
    EXPECT_EQ(prompt.size(), static_cast<size_t>(length));
    EXPECT_THAT(prompt, Each(AnyOfArray(kPool)));
  }
}

TEST(PromptMakerTest, EveryPromptStartsWithTheSharedPrefixThenDiffers) {
  PromptMaker maker(kPool, 8, 3);
  ASSERT_EQ(maker.shared_prefix().size(), 8u);
  const std::vector<int32_t> a = maker.Make(40);
  const std::vector<int32_t> b = maker.Make(40);
  EXPECT_THAT(std::vector<int32_t>(a.begin(), a.begin() + 8),
              ElementsAreArray(maker.shared_prefix()));
  EXPECT_THAT(std::vector<int32_t>(b.begin(), b.begin() + 8),
              ElementsAreArray(maker.shared_prefix()));
  // 32 tokens of their own, from 6 ids: the same by chance with probability 6^-32.
  EXPECT_THAT(std::vector<int32_t>(a.begin() + 8, a.end()),
              Not(ElementsAreArray(std::vector<int32_t>(b.begin() + 8, b.end()))));
}

TEST(PromptMakerTest, TheSeedFixesThePrompts) {
  PromptMaker a(kPool, 4, 9);
  PromptMaker b(kPool, 4, 9);
  PromptMaker c(kPool, 4, 10);
  const std::vector<int32_t> from_a = a.Make(64);
  EXPECT_EQ(from_a, b.Make(64));
  EXPECT_NE(from_a, c.Make(64));
}

TEST(PromptMakerTest, DrawsEveryPoolTokenAboutEquallyOften) {
  PromptMaker maker(kPool, 0, 5);
  const std::vector<int32_t> prompt = maker.Make(60000);
  for (const int32_t id : kPool) {
    const double share = std::count(prompt.begin(), prompt.end(), id) / 60000.0;
    EXPECT_NEAR(share, 1.0 / 6, 0.01) << id;
  }
}

}  // namespace
}  // namespace tessera::load
