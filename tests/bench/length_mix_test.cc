// LengthMix against mixes worked out by hand.
#include "bench/load/length_mix.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::load {
namespace {

using ::testing::HasSubstr;

TEST(LengthMixTest, OneLengthIsEveryRequests) {
  const absl::StatusOr<LengthMix> mix = LengthMix::Parse("512");
  ASSERT_TRUE(mix.ok()) << mix.status();
  for (const double u : {0.0, 0.5, 0.999999}) EXPECT_EQ(mix->Pick(u), 512);
  EXPECT_EQ(mix->min(), 512);
  EXPECT_EQ(mix->max(), 512);
  EXPECT_DOUBLE_EQ(mix->mean(), 512);
  EXPECT_EQ(mix->ToString(), "512");
}

TEST(LengthMixTest, WeightsSplitTheUnitInterval) {
  // Weights 3, 1 and 4 of 8: [0, 3/8) -> 128, [3/8, 4/8) -> 256, [4/8, 1) -> 1024.
  const absl::StatusOr<LengthMix> mix = LengthMix::Parse("128:3,256:1,1024:4");
  ASSERT_TRUE(mix.ok()) << mix.status();
  EXPECT_EQ(mix->Pick(0.0), 128);
  EXPECT_EQ(mix->Pick(0.374), 128);
  EXPECT_EQ(mix->Pick(0.375), 256);
  EXPECT_EQ(mix->Pick(0.499), 256);
  EXPECT_EQ(mix->Pick(0.5), 1024);
  EXPECT_EQ(mix->Pick(0.9999999), 1024);
  EXPECT_EQ(mix->min(), 128);
  EXPECT_EQ(mix->max(), 1024);
  // (3 * 128 + 256 + 4 * 1024) / 8 = 592.
  EXPECT_DOUBLE_EQ(mix->mean(), 592);
  EXPECT_EQ(mix->ToString(), "128:3,256:1,1024:4");
}

TEST(LengthMixTest, LengthWithoutWeightWeighsOne) {
  const absl::StatusOr<LengthMix> mix = LengthMix::Parse("64,192:0.5,512");
  ASSERT_TRUE(mix.ok()) << mix.status();
  // Weights 1, 0.5, 1 of 2.5: 64 below 0.4, 192 below 0.6.
  EXPECT_EQ(mix->Pick(0.39), 64);
  EXPECT_EQ(mix->Pick(0.41), 192);
  EXPECT_EQ(mix->Pick(0.61), 512);
  EXPECT_DOUBLE_EQ(mix->mean(), (64 + 0.5 * 192 + 512) / 2.5);
}

TEST(LengthMixTest, RejectsWhatIsNotALengthMix) {
  for (const char* text :
       {"", "0", "-4", "12x", "128:0", "128:-1", "128:1:2", "128,,256", "128:nan", "128:inf"}) {
    const absl::StatusOr<LengthMix> mix = LengthMix::Parse(text);
    EXPECT_FALSE(mix.ok()) << "'" << text << "' parsed";
    EXPECT_THAT(mix.status().message(), HasSubstr("LENGTH:WEIGHT")) << text;
  }
}

}  // namespace
}  // namespace tessera::load
