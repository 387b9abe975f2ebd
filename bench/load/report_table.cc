#include "bench/load/report_table.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace tessera::load {
namespace {

std::string Requests(const LoadOptions& o) {
  if (o.duration.has_value())
    return absl::StrCat("requests for ", absl::FormatDuration(*o.duration));
  return absl::StrCat(o.requests, " requests");
}

// A message as one table cell: no line breaks, and its bars escaped.
std::string Cell(const std::string& text) {
  std::string cell;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      cell += ' ';
    } else {
      if (c == '|') cell += '\\';
      cell += c;
    }
  }
  return cell;
}

void AppendLatencyRow(std::string& out, const char* name, const Distribution& d) {
  absl::StrAppendFormat(&out, "| %s | %.2f | %.2f | %.2f | %.2f | %d |\n", name, d.p50, d.p90,
                        d.p99, d.mean, d.count);
}

}  // namespace

std::string ReportTable(const RunReport& report) {
  const LoadOptions& o = report.options;
  const LoadSummary& s = report.summary;
  std::string out;
  absl::StrAppendFormat(&out,
                        "model      %s at %s: vocabulary %d (%d ordinary ids drawn from), "
                        "context %d\n",
                        o.model, o.server, report.vocab_size, report.ordinary_tokens,
                        report.context_length);
  if (o.open_loop()) {
    absl::StrAppendFormat(&out,
                          "load       open loop: Poisson arrivals at %g requests/s, at most "
                          "%d outstanding; %s after %d warm-up\n",
                          o.rate, o.max_outstanding, Requests(o), report.warmup_requests);
  } else {
    absl::StrAppendFormat(&out, "load       closed loop: %d streams; %s after %d warm-up\n",
                          o.concurrency, Requests(o), report.warmup_requests);
  }
  absl::StrAppendFormat(&out,
                        "requests   prompt tokens %s (%d shared), output tokens %s "
                        "(end of sequence ignored), temperature %g, seed %d\n",
                        o.prompt_tokens.ToString(), o.shared_prefix_tokens,
                        o.output_tokens.ToString(), o.temperature, o.seed);

  absl::StrAppend(&out,
                  "\n| requests | succeeded | failed | seconds | requests/s | output tokens "
                  "| output tokens/s | mean prompt tokens | mean output tokens |\n"
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  absl::StrAppendFormat(&out, "| %d | %d | %d | %.3f | %.2f | %d | %.1f | %.1f | %.1f |\n",
                        s.requests, s.succeeded, s.failed, s.seconds, s.requests_per_second,
                        s.output_tokens, s.output_tokens_per_second, s.mean_prompt_tokens,
                        s.mean_output_tokens);

  absl::StrAppend(&out,
                  "\n| latency ms | p50 | p90 | p99 | mean | count |\n"
                  "| --- | ---: | ---: | ---: | ---: | ---: |\n");
  AppendLatencyRow(out, "time to first token", s.time_to_first_token_ms);
  AppendLatencyRow(out, "inter-token", s.inter_token_ms);
  AppendLatencyRow(out, "request", s.latency_ms);

  if (report.engine.has_value()) {
    const EngineUse& e = *report.engine;
    const double steps = e.steps > 0 ? static_cast<double>(e.steps) : 1.0;
    absl::StrAppendFormat(
        &out,
        "\nengine     %d forward passes of %.1f tokens on average: in them %.1f%% of its busy "
        "time (%.1f%% of the phase's); scheduling between them %.1f us a pass\n",
        e.steps, e.step_tokens / steps, 100 * e.forward_fraction(),
        s.seconds > 0 ? 100 * e.forward_seconds / s.seconds : 0.0,
        1e6 * e.scheduling_seconds / steps);
  }

  if (s.errors.empty()) {
    absl::StrAppend(&out, "\nerrors: none\n");
  } else {
    absl::StrAppend(&out, "\n| error | requests | first message |\n| --- | ---: | --- |\n");
    for (const ErrorCount& e : s.errors) {
      absl::StrAppendFormat(&out, "| %s | %d | %s |\n", CodeName(e.code), e.count,
                            Cell(e.first_message));
    }
  }
  if (s.unexpected_lengths > 0) {
    absl::StrAppendFormat(&out, "%d requests succeeded with another output length than asked\n",
                          s.unexpected_lengths);
  }
  if (report.warmup_failed > 0) {
    absl::StrAppendFormat(&out, "%d of %d warm-up requests failed\n", report.warmup_failed,
                          report.warmup_requests);
  }
  if (report.held_by_cap > 0) {
    absl::StrAppendFormat(&out,
                          "%d arrivals waited for a slot (--max_outstanding %d): the "
                          "server did not keep up with the rate\n",
                          report.held_by_cap, o.max_outstanding);
  }
  return out;
}

}  // namespace tessera::load
