// TokenTimer against streams whose arrival times are made up, the figures worked out by hand.
#include "bench/load/token_timer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::load {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;

Clock::time_point At(double ms) {
  return Clock::time_point() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
}

TEST(TokenTimerTest, OneTokenPerMessage) {
  TokenTimer timer(At(100));
  timer.Arrived(1, At(130));
  timer.Arrived(1, At(140));
  timer.Arrived(1, At(155));
  ASSERT_TRUE(timer.first_token_ms().has_value());
  EXPECT_DOUBLE_EQ(*timer.first_token_ms(), 30);
  EXPECT_THAT(timer.gaps_ms(), ElementsAre(DoubleEq(10), DoubleEq(15)));
  EXPECT_EQ(timer.tokens(), 3);
}

TEST(TokenTimerTest, AMessageOfSeveralTokensSpreadsItsGap) {
  TokenTimer timer(At(0));
  timer.Arrived(1, At(50));
  timer.Arrived(4, At(70));  // 20 ms over 4 tokens
  timer.Arrived(1, At(80));
  EXPECT_DOUBLE_EQ(*timer.first_token_ms(), 50);
  EXPECT_THAT(timer.gaps_ms(),
              ElementsAre(DoubleEq(5), DoubleEq(5), DoubleEq(5), DoubleEq(5), DoubleEq(10)));
  EXPECT_EQ(timer.tokens(), 6);
}

TEST(TokenTimerTest, TokensArrivingWithTheFirstHaveNoGap) {
  TokenTimer timer(At(10));
  timer.Arrived(0, At(15));  // no tokens: ignored
  timer.Arrived(3, At(40));
  timer.Arrived(2, At(50));
  EXPECT_DOUBLE_EQ(*timer.first_token_ms(), 30);
  // One gap fewer than tokens; they add up to the 10 ms from the first token to the last.
  EXPECT_THAT(timer.gaps_ms(), ElementsAre(DoubleEq(0), DoubleEq(0), DoubleEq(5), DoubleEq(5)));
  EXPECT_EQ(timer.tokens(), 5);
}

TEST(TokenTimerTest, NoTokensNoFirstToken) {
  TokenTimer timer(At(0));
  timer.Arrived(0, At(5));
  EXPECT_FALSE(timer.first_token_ms().has_value());
  EXPECT_TRUE(timer.gaps_ms().empty());
  EXPECT_EQ(timer.tokens(), 0);
}

}  // namespace
}  // namespace tessera::load
