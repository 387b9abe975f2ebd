// The report as JSON and as a table: every figure of a made-up summary, where the table and the
// JSON say it.
#include <nlohmann/json.hpp>
#include <string>

#include "absl/time/time.h"
#include "bench/load/report_json.h"
#include "bench/load/report_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::load {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RunReport MadeUpReport() {
  RunReport report;
  report.options.server = "127.0.0.1:5000";
  report.options.model = "stories";
  report.options.concurrency = 4;
  report.options.requests = 12;
  report.options.warmup = 2;
  report.options.prompt_tokens = *LengthMix::Parse("16");
  report.options.output_tokens = *LengthMix::Parse("4:1,8:3");
  report.options.shared_prefix_tokens = 8;
  report.options.seed = 7;
  report.vocab_size = 512;
  report.context_length = 512;
  report.ordinary_tokens = 480;
  report.warmup_requests = 2;
  report.warmup_failed = 0;
  LoadSummary& s = report.summary;
  s.requests = 12;
  s.succeeded = 10;
  s.failed = 2;
  s.seconds = 2.5;
  s.prompt_tokens = 160;
  s.output_tokens = 70;
  s.requests_per_second = 4;
  s.output_tokens_per_second = 28;
  s.mean_prompt_tokens = 16;
  s.mean_output_tokens = 7;
  s.time_to_first_token_ms = {.count = 10, .mean = 12.5, .p50 = 11, .p90 = 20, .p99 = 25};
  s.inter_token_ms = {.count = 60, .mean = 3.25, .p50 = 3, .p90 = 4.5, .p99 = 6};
  s.latency_ms = {.count = 10, .mean = 40, .p50 = 38, .p90 = 50, .p99 = 55};
  s.errors = {
      {.code = grpc::StatusCode::RESOURCE_EXHAUSTED, .count = 2, .first_message = "KV cache full"}};
  report.engine =
      EngineUse{.steps = 40, .step_tokens = 230, .forward_seconds = 1.8, .scheduling_seconds = 0.2};
  return report;
}

TEST(ReportJsonTest, HoldsTheOptionsTheModelAndEveryFigure) {
  // Through text and back, as a script reads it.
  const nlohmann::json json = nlohmann::json::parse(ReportJson(MadeUpReport()).dump());

  const nlohmann::json& options = json.at("options");
  EXPECT_EQ(options.at("server"), "127.0.0.1:5000");
  EXPECT_EQ(options.at("model"), "stories");
  EXPECT_EQ(options.at("loop"), "closed");
  EXPECT_EQ(options.at("concurrency"), 4);
  EXPECT_TRUE(options.at("rate").is_null());
  EXPECT_EQ(options.at("requests"), 12);
  EXPECT_TRUE(options.at("duration_seconds").is_null());
  EXPECT_EQ(options.at("warmup"), 2);
  EXPECT_EQ(options.at("prompt_tokens"), nlohmann::json::parse(R"([{"tokens":16,"weight":1.0}])"));
  EXPECT_EQ(options.at("output_tokens"),
            nlohmann::json::parse(R"([{"tokens":4,"weight":1.0},{"tokens":8,"weight":3.0}])"));
  EXPECT_EQ(options.at("shared_prefix_tokens"), 8);
  EXPECT_EQ(options.at("ignore_eos"), true);
  EXPECT_EQ(options.at("seed"), 7);

  EXPECT_EQ(json.at("model").at("vocab_size"), 512);
  EXPECT_EQ(json.at("model").at("context_length"), 512);
  EXPECT_EQ(json.at("model").at("ordinary_tokens"), 480);
  EXPECT_EQ(json.at("warmup").at("requests"), 2);
  EXPECT_EQ(json.at("warmup").at("failed"), 0);

  const nlohmann::json& results = json.at("results");
  EXPECT_EQ(results.at("requests"), 12);
  EXPECT_EQ(results.at("succeeded"), 10);
  EXPECT_EQ(results.at("failed"), 2);
  EXPECT_EQ(results.at("seconds"), 2.5);
  EXPECT_EQ(results.at("requests_per_second"), 4.0);
  EXPECT_EQ(results.at("output_tokens"), 70);
  EXPECT_EQ(results.at("output_tokens_per_second"), 28.0);
  EXPECT_EQ(results.at("mean_prompt_tokens"), 16.0);
  EXPECT_EQ(results.at("mean_output_tokens"), 7.0);
  EXPECT_EQ(results.at("unexpected_lengths"), 0);
  EXPECT_EQ(results.at("time_to_first_token_ms"),
            nlohmann::json::parse(R"({"p50":11.0,"p90":20.0,"p99":25.0,"mean":12.5,"count":10})"));
  EXPECT_EQ(results.at("inter_token_ms").at("p90"), 4.5);
  EXPECT_EQ(results.at("inter_token_ms").at("count"), 60);
  EXPECT_EQ(results.at("request_latency_ms").at("p99"), 55.0);
  EXPECT_EQ(results.at("errors"), nlohmann::json::parse(
                                      R"([{"code":"RESOURCE_EXHAUSTED","code_number":8,
                                           "requests":2,"first_message":"KV cache full"}])"));
  EXPECT_EQ(results.at("held_by_cap"), 0);
  // 1.8 s of 1.8 + 0.2 in passes.
  EXPECT_EQ(json.at("engine"), nlohmann::json::parse(R"({"steps":40,"step_tokens":230,
      "forward_seconds":1.8,"scheduling_seconds":0.2,"forward_fraction":0.9})"));
}

TEST(ReportJsonTest, AnOpenLoopForADurationSaysSo) {
  RunReport report = MadeUpReport();
  report.options.concurrency = 0;
  report.options.rate = 2.5;
  report.options.max_outstanding = 64;
  report.options.requests = 0;
  report.options.duration = absl::Seconds(90);
  const nlohmann::json options = nlohmann::json::parse(ReportJson(report).dump()).at("options");
  EXPECT_EQ(options.at("loop"), "open");
  EXPECT_TRUE(options.at("concurrency").is_null());
  EXPECT_EQ(options.at("rate"), 2.5);
  EXPECT_EQ(options.at("max_outstanding"), 64);
  EXPECT_TRUE(options.at("requests").is_null());
  EXPECT_EQ(options.at("duration_seconds"), 90.0);
}

TEST(ReportTableTest, PrintsTheSameFigures) {
  const std::string table = ReportTable(MadeUpReport());
  EXPECT_THAT(table, HasSubstr("closed loop: 4 streams; 12 requests after 2 warm-up"));
  EXPECT_THAT(table, HasSubstr("prompt tokens 16 (8 shared), output tokens 4:1,8:3"));
  EXPECT_THAT(table, HasSubstr("| 12 | 10 | 2 | 2.500 | 4.00 | 70 | 28.0 | 16.0 | 7.0 |"));
  EXPECT_THAT(table, HasSubstr("| time to first token | 11.00 | 20.00 | 25.00 | 12.50 | 10 |"));
  EXPECT_THAT(table, HasSubstr("| inter-token | 3.00 | 4.50 | 6.00 | 3.25 | 60 |"));
  EXPECT_THAT(table, HasSubstr("| request | 38.00 | 50.00 | 55.00 | 40.00 | 10 |"));
  EXPECT_THAT(table, HasSubstr("| RESOURCE_EXHAUSTED | 2 | KV cache full |"));
  EXPECT_THAT(table, Not(HasSubstr("errors: none")));
  EXPECT_THAT(table, Not(HasSubstr("another output length")));
  // 230 / 40 tokens a pass; 1.8 / 2.0 s of busy time and 1.8 / 2.5 s of the phase; 0.2 s / 40.
  EXPECT_THAT(table, HasSubstr("40 forward passes of 5.8 tokens on average: in them 90.0% of its "
                               "busy time (72.0% of the phase's); scheduling between them "
                               "5000.0 us a pass"));
}

TEST(ReportTableTest, AnErrorMessageStaysInItsCell) {
  RunReport report = MadeUpReport();
  report.summary.errors[0].first_message = "a | b\nc";
  EXPECT_THAT(ReportTable(report), HasSubstr("| RESOURCE_EXHAUSTED | 2 | a \\| b c |\n"));
}

TEST(ReportTableTest, NotesWhatDidNotGoAsAsked) {
  RunReport report = MadeUpReport();
  report.summary.errors.clear();
  report.summary.unexpected_lengths = 3;
  report.warmup_failed = 1;
  report.options.concurrency = 0;
  report.options.rate = 40;
  report.options.max_outstanding = 8;
  report.held_by_cap = 5;
  const std::string table = ReportTable(report);
  EXPECT_THAT(table, HasSubstr("open loop: Poisson arrivals at 40 requests/s, at most 8 "
                               "outstanding; 12 requests after 2 warm-up"));
  EXPECT_THAT(table, HasSubstr("errors: none"));
  EXPECT_THAT(table, HasSubstr("3 requests succeeded with another output length than asked"));
  EXPECT_THAT(table, HasSubstr("1 of 2 warm-up requests failed"));
  EXPECT_THAT(table, HasSubstr("5 arrivals waited for a slot (--max_outstanding 8)"));
}

}  // namespace
}  // namespace tessera::load
