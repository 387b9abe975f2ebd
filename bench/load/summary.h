// The figures of a load run, from its requests' records.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/load/request_record.h"

namespace tessera::load {

// Percentiles by nearest rank (bench/percentile.h) and the mean; all 0 for no values.
struct Distribution {
  int64_t count = 0;
  double mean = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
};

Distribution Describe(const std::vector<double>& values);

// The requests that failed with one status code.
struct ErrorCount {
  grpc::StatusCode code = grpc::StatusCode::OK;
  int64_t count = 0;
  std::string first_message;  // the first such request's status message
};

// The name a status code is printed with, e.g. "NOT_FOUND".
std::string CodeName(grpc::StatusCode code);

// Token counts, rates and latencies are of the requests that succeeded; a failed request only
// counts in `failed` and `errors`.
struct LoadSummary {
  int64_t requests = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  double seconds = 0;  // the phase's length (load_run.h)
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;  // counted in the streams' messages
  // Succeeded with another count of tokens than max_tokens asked for (a stop, the context's
  // end), or with a stream count unlike the server's Usage.completion_tokens.
  int64_t unexpected_lengths = 0;
  double requests_per_second = 0;       // succeeded / seconds
  double output_tokens_per_second = 0;  // output_tokens / seconds
  double mean_prompt_tokens = 0;
  double mean_output_tokens = 0;
  Distribution time_to_first_token_ms;
  Distribution inter_token_ms;     // every gap of every stream together
  Distribution latency_ms;         // whole requests
  std::vector<ErrorCount> errors;  // most frequent first, then by code
};

LoadSummary Summarize(const std::vector<RequestRecord>& records, double seconds);

}  // namespace tessera::load
