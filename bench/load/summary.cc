#include "bench/load/summary.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "bench/percentile.h"

namespace tessera::load {

Distribution Describe(const std::vector<double>& values) {
  Distribution d;
  if (values.empty()) return d;
  d.count = static_cast<int64_t>(values.size());
  double sum = 0;
  for (const double v : values) sum += v;
  d.mean = sum / values.size();
  d.p50 = bench::Percentile(values, 50);
  d.p90 = bench::Percentile(values, 90);
  d.p99 = bench::Percentile(values, 99);
  return d;
}

std::string CodeName(grpc::StatusCode code) {
  // gRPC's codes and absl's are the same numbers with the same names.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

LoadSummary Summarize(const std::vector<RequestRecord>& records, double seconds) {
  LoadSummary s;
  s.requests = static_cast<int64_t>(records.size());
  s.seconds = seconds;
  std::vector<double> first_token_ms;
  std::vector<double> gaps_ms;
  std::vector<double> latency_ms;
  std::map<grpc::StatusCode, ErrorCount> errors;
  for (const RequestRecord& r : records) {
    if (!r.ok()) {
      ++s.failed;
      ErrorCount& error = errors[r.code];
      if (error.count++ == 0) {
        error.code = r.code;
        error.first_message = r.error_message;
      }
      continue;
    }
    ++s.succeeded;
    s.prompt_tokens += r.prompt_tokens;
    s.output_tokens += r.output_tokens;
    if (r.output_tokens != r.max_tokens || r.output_tokens != r.reported_output_tokens) {
      ++s.unexpected_lengths;
    }
    if (r.first_token_ms.has_value()) first_token_ms.push_back(*r.first_token_ms);
    gaps_ms.insert(gaps_ms.end(), r.gaps_ms.begin(), r.gaps_ms.end());
    latency_ms.push_back(r.latency_ms);
  }
  if (seconds > 0) {
    s.requests_per_second = s.succeeded / seconds;
    s.output_tokens_per_second = s.output_tokens / seconds;
  }
  if (s.succeeded > 0) {
    s.mean_prompt_tokens = static_cast<double>(s.prompt_tokens) / s.succeeded;
    s.mean_output_tokens = static_cast<double>(s.output_tokens) / s.succeeded;
  }
  s.time_to_first_token_ms = Describe(first_token_ms);
  s.inter_token_ms = Describe(gaps_ms);
  s.latency_ms = Describe(latency_ms);
  for (const auto& [code, error] : errors) s.errors.push_back(error);
  std::stable_sort(s.errors.begin(), s.errors.end(),
                   [](const ErrorCount& a, const ErrorCount& b) { return a.count > b.count; });
  return s;
}

}  // namespace tessera::load
