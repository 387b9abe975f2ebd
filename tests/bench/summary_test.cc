// Percentiles and a run's summary against figures worked out by hand.
#include "bench/load/summary.h"

#include <vector>

#include "bench/percentile.h"
#include "gtest/gtest.h"

namespace tessera::load {
namespace {

TEST(PercentileTest, NearestRank) {
  // The nearest-rank example of the percentile's usual definition: 15, 20, 35, 40, 50.
  const std::vector<double> values = {50, 15, 40, 20, 35};
  EXPECT_EQ(bench::Percentile(values, 0), 15);
  EXPECT_EQ(bench::Percentile(values, 30), 20);
  EXPECT_EQ(bench::Percentile(values, 40), 20);
  EXPECT_EQ(bench::Percentile(values, 50), 35);
  EXPECT_EQ(bench::Percentile(values, 99), 50);
  EXPECT_EQ(bench::Percentile(values, 100), 50);
  EXPECT_EQ(bench::Percentile({}, 50), 0);
  // 1..100: the p-th percentile is p.
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  EXPECT_EQ(bench::Percentile(hundred, 50), 50);
  EXPECT_EQ(bench::Percentile(hundred, 90), 90);
  EXPECT_EQ(bench::Percentile(hundred, 99), 99);
}

TEST(DescribeTest, CountMeanAndPercentiles) {
  const Distribution d = Describe({4, 1, 3, 2});
  EXPECT_EQ(d.count, 4);
  EXPECT_DOUBLE_EQ(d.mean, 2.5);
  EXPECT_EQ(d.p50, 2);
  EXPECT_EQ(d.p90, 4);
  EXPECT_EQ(d.p99, 4);
  const Distribution none = Describe({});
  EXPECT_EQ(none.count, 0);
  EXPECT_EQ(none.mean, 0);
  EXPECT_EQ(none.p99, 0);
}

RequestRecord Succeeded(int32_t prompt, int32_t output, double first_token_ms,
                        std::vector<double> gaps_ms, double latency_ms) {
  return {.prompt_tokens = prompt,
          .max_tokens = 8,
          .output_tokens = output,
          .reported_output_tokens = output,
          .first_token_ms = first_token_ms,
          .gaps_ms = std::move(gaps_ms),
          .latency_ms = latency_ms};
}

RequestRecord Failed(grpc::StatusCode code, std::string message) {
  return {.prompt_tokens = 16, .max_tokens = 8, .code = code, .error_message = std::move(message)};
}

TEST(SummarizeTest, FiguresOfTheRequestsThatSucceededAndErrorsByCode) {
  const std::vector<RequestRecord> records = {
      Succeeded(16, 8, 10, {1, 2, 3, 4, 5, 6, 7}, 40),
      Failed(grpc::StatusCode::NOT_FOUND, "model x"),
      Succeeded(32, 8, 30, {1, 1, 1, 1, 1, 1, 1}, 50),
      Failed(grpc::StatusCode::UNAVAILABLE, "connection refused"),
      Failed(grpc::StatusCode::NOT_FOUND, "model y"),
      Succeeded(16, 6, 20, {2, 2, 2, 2, 2}, 60),  // 6 tokens of 8
  };
  const LoadSummary s = Summarize(records, 2.0);

  EXPECT_EQ(s.requests, 6);
  EXPECT_EQ(s.succeeded, 3);
  EXPECT_EQ(s.failed, 3);
  EXPECT_EQ(s.seconds, 2.0);
  EXPECT_EQ(s.prompt_tokens, 64);
  EXPECT_EQ(s.output_tokens, 22);
  EXPECT_EQ(s.unexpected_lengths, 1);
  EXPECT_DOUBLE_EQ(s.requests_per_second, 1.5);
  EXPECT_DOUBLE_EQ(s.output_tokens_per_second, 11);
  EXPECT_DOUBLE_EQ(s.mean_prompt_tokens, 64.0 / 3);
  EXPECT_DOUBLE_EQ(s.mean_output_tokens, 22.0 / 3);

  // First tokens 10, 30, 20 ms.
  EXPECT_EQ(s.time_to_first_token_ms.count, 3);
  EXPECT_EQ(s.time_to_first_token_ms.p50, 20);
  EXPECT_EQ(s.time_to_first_token_ms.p90, 30);
  EXPECT_EQ(s.time_to_first_token_ms.p99, 30);
  EXPECT_DOUBLE_EQ(s.time_to_first_token_ms.mean, 20);
  // 19 gaps: eight of 1 ms, six of 2, then 3, 4, 5, 6, 7. Ranks 10, 18 and 19.
  EXPECT_EQ(s.inter_token_ms.count, 19);
  EXPECT_EQ(s.inter_token_ms.p50, 2);
  EXPECT_EQ(s.inter_token_ms.p90, 6);
  EXPECT_EQ(s.inter_token_ms.p99, 7);
  EXPECT_DOUBLE_EQ(s.inter_token_ms.mean, 45.0 / 19);
  EXPECT_EQ(s.latency_ms.p50, 50);
  EXPECT_EQ(s.latency_ms.p90, 60);
  EXPECT_DOUBLE_EQ(s.latency_ms.mean, 50);

  ASSERT_EQ(s.errors.size(), 2u);
  EXPECT_EQ(s.errors[0].code, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.errors[0].count, 2);
  EXPECT_EQ(s.errors[0].first_message, "model x");
  EXPECT_EQ(s.errors[1].code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.errors[1].count, 1);
  EXPECT_EQ(CodeName(s.errors[0].code), "NOT_FOUND");
  EXPECT_EQ(CodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
}

TEST(SummarizeTest, AStreamCountUnlikeTheServersIsAnUnexpectedLength) {
  RequestRecord r = Succeeded(16, 8, 10, {1, 1, 1, 1, 1, 1, 1}, 20);
  r.reported_output_tokens = 9;
  EXPECT_EQ(Summarize({r}, 1).unexpected_lengths, 1);
}

TEST(SummarizeTest, AllFailedGivesNoRatesOrLatencies) {
  const LoadSummary s = Summarize({Failed(grpc::StatusCode::NOT_FOUND, "m")}, 0.5);
  EXPECT_EQ(s.succeeded, 0);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.requests_per_second, 0);
  EXPECT_EQ(s.output_tokens_per_second, 0);
  EXPECT_EQ(s.mean_output_tokens, 0);
  EXPECT_EQ(s.time_to_first_token_ms.count, 0);
}

}  // namespace
}  // namespace tessera::load
