// tessera-load: a gRPC load generator for a Tessera server. It replays a mix of prompt and output
// lengths through Generate streams, at a fixed concurrency (closed loop: N streams, each sending
// its next request when the previous one ends) or at a request rate (open loop: Poisson
// arrivals, with a cap on the requests outstanding), and reports output tokens/s, requests/s,
// time to first token, inter-token latency and whole-request latency (p50/p90/p99, mean), mean
// lengths, the failed requests by gRPC status code and what the server's engine did during the
// measured phase (engine_use.h): as markdown tables on stdout, and the same figures as JSON with
// --json.
//
//   tessera-load --server HOST:PORT --model NAME
//                [--concurrency N | --rate R [--max_outstanding 256]]
//                [--requests N | --duration D] [--warmup N]
//                [--prompt_tokens 512 | --prompt_tokens 128:3,512:1]
//                [--output_tokens 256 | --output_tokens 64:1,256:1]
//                [--shared_prefix_tokens K] [--temperature 0] [--seed 0]
//                [--connections 1] [--request_timeout D] [--json PATH]
//
// Prompts are token ids, so their lengths are exact: ordinary tokens of the model's vocabulary
// drawn at random (ordinary_tokens.h), the first K of them the same in every prompt with
// --shared_prefix_tokens K (how prefix reuse is measured: run with the server's reuse on, then
// off). Outputs are generated to exactly the length drawn, past any end-of-sequence token
// (StopCriteria.ignore_eos); a request that still ends with another count is counted as an
// unexpected length. A length mix is LENGTH:WEIGHT pairs; prompt and output lengths are drawn
// independently. --seed fixes the prompts, the lengths and the arrival times.
//
// Latencies are of the requests that succeeded, measured from sending each request: time to
// first token, then a gap per further token (a message carrying several tokens spreads its gap
// over them, token_timer.h). In an open loop, an arrival that finds --max_outstanding requests
// in flight waits for one to end and is timed from when it is sent; the report counts those
// arrivals. Throughput is over the measured phase, from sending its first request to the end of
// its last; warm-up requests are left out. The measured requests follow the warm-up ones without
// a pause, so they meet the load the warm-up built up (in a closed loop, streams that no longer
// start together) rather than an idle server.
//
// Exit status: 0 when every request succeeded; 3 when the run finished and reported but some
// requests failed, warm-up ones included (the measured ones are counted by status code in the
// errors table and the JSON); 1 when the run could not start, e.g. the model is not loaded
// (GetModel's NOT_FOUND is printed and no load is sent), or the JSON could not be written; 2 for
// bad flags.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/load/engine_use.h"
#include "bench/load/load_options.h"
#include "bench/load/load_run.h"
#include "bench/load/ordinary_tokens.h"
#include "bench/load/report_json.h"
#include "bench/load/report_table.h"
#include "bench/load/request_maker.h"
#include "bench/load/run_report.h"
#include "bench/load/summary.h"
#include "core/util/status_macros.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, server, "localhost:50051", "The server's address, HOST:PORT.");
ABSL_FLAG(std::string, model, "", "Required. The loaded model to send requests to.");
ABSL_FLAG(int, concurrency, 0,
          "Closed loop: this many streams, each sending its next request when the previous one "
          "ends. The default when --rate is not given: 1.");
ABSL_FLAG(double, rate, 0, "Open loop: requests per second, at Poisson arrival times.");
ABSL_FLAG(int, max_outstanding, 256,
          "Open loop: at most this many requests in flight; an arrival beyond it waits.");
ABSL_FLAG(int64_t, requests, 0,
          "Measured requests. The default when --duration is not given: 100.");
ABSL_FLAG(std::optional<absl::Duration>, duration, std::nullopt,
          "Instead of --requests: send requests for this long (e.g. 60s), then wait for those in "
          "flight.");
ABSL_FLAG(int64_t, warmup, 0,
          "Requests run first, the same way, and left out of the figures; the measured ones "
          "follow without waiting for them to end.");
ABSL_FLAG(std::string, prompt_tokens, "512",
          "Prompt length in tokens, or a mix LENGTH:WEIGHT,... (e.g. 128:3,512:1).");
ABSL_FLAG(std::string, output_tokens, "256",
          "Output length in tokens, or a mix LENGTH:WEIGHT,...; generated past end of sequence.");
ABSL_FLAG(int32_t, shared_prefix_tokens, 0,
          "Every prompt starts with the same K tokens; the rest of each prompt is its own.");
ABSL_FLAG(uint64_t, seed, 0, "Fixes the prompts, the lengths and the arrival times.");
ABSL_FLAG(float, temperature, 0, "Sampling temperature; 0: greedy.");
ABSL_FLAG(int, connections, 1, "HTTP/2 connections to spread the requests over.");
ABSL_FLAG(std::optional<absl::Duration>, request_timeout, std::nullopt,
          "Deadline of each request (e.g. 120s); one that passes counts as DEADLINE_EXCEEDED.");
ABSL_FLAG(std::string, json, "", "Where to write the report as JSON.");

namespace tessera::load {
namespace {

namespace pb = ::tessera::inference::v1;

constexpr int kExitOk = 0;
constexpr int kExitCannotRun = 1;
constexpr int kExitUsage = 2;
constexpr int kExitRequestsFailed = 3;

constexpr int64_t kDefaultRequests = 100;
// The seed of the arrival times' random stream (request_maker.cc has the requests').
constexpr uint64_t kArrivalStream = 3;

absl::StatusOr<LengthMix> ReadMix(const char* flag, const std::string& text) {
  absl::StatusOr<LengthMix> mix = LengthMix::Parse(text);
  if (!mix.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", mix.status().message()));
  }
  return mix;
}

absl::StatusOr<LoadOptions> ReadOptions() {
  LoadOptions o;
  o.server = absl::GetFlag(FLAGS_server);
  o.model = absl::GetFlag(FLAGS_model);
  o.concurrency = absl::GetFlag(FLAGS_concurrency);
  o.rate = absl::GetFlag(FLAGS_rate);
  if (o.concurrency == 0 && o.rate == 0) o.concurrency = 1;
  o.max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  o.requests = absl::GetFlag(FLAGS_requests);
  o.duration = absl::GetFlag(FLAGS_duration);
  if (o.requests == 0 && !o.duration.has_value()) o.requests = kDefaultRequests;
  o.warmup = absl::GetFlag(FLAGS_warmup);
  TESSERA_ASSIGN_OR_RETURN(o.prompt_tokens,
                           ReadMix("prompt_tokens", absl::GetFlag(FLAGS_prompt_tokens)));
  TESSERA_ASSIGN_OR_RETURN(o.output_tokens,
                           ReadMix("output_tokens", absl::GetFlag(FLAGS_output_tokens)));
  o.shared_prefix_tokens = absl::GetFlag(FLAGS_shared_prefix_tokens);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.temperature = absl::GetFlag(FLAGS_temperature);
  o.connections = absl::GetFlag(FLAGS_connections);
  o.request_timeout = absl::GetFlag(FLAGS_request_timeout);
  o.json_path = absl::GetFlag(FLAGS_json);
  TESSERA_RETURN_IF_ERROR(CheckOptions(o));
  return o;
}

// One stub per connection: a channel of its own subchannel pool opens a connection of its own.
std::vector<std::unique_ptr<pb::InferenceService::Stub>> Connect(const LoadOptions& o) {
  std::vector<std::unique_ptr<pb::InferenceService::Stub>> stubs;
  for (int i = 0; i < o.connections; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // The vocabulary round trip (ReadModelFacts) can answer with more than gRPC's default 4 MB:
    // the filler pieces of a random-weight model re-tokenize into many ids.
    args.SetMaxReceiveMessageSize(64 << 20);
    stubs.push_back(pb::InferenceService::NewStub(
        grpc::CreateCustomChannel(o.server, grpc::InsecureChannelCredentials(), args)));
  }
  return stubs;
}

absl::StatusOr<RunReport> Run(const LoadOptions& options) {
  const std::vector<std::unique_ptr<pb::InferenceService::Stub>> owned = Connect(options);
  std::vector<pb::InferenceService::Stub*> stubs;
  for (const auto& stub : owned) stubs.push_back(stub.get());
  TESSERA_ASSIGN_OR_RETURN(ModelFacts facts, ReadModelFacts(*stubs[0], options.model, options.seed,
                                                            options.request_timeout));

  RunReport report{.options = options,
                   .vocab_size = facts.vocab_size,
                   .context_length = facts.context_length,
                   .ordinary_tokens = static_cast<int64_t>(facts.ordinary_tokens.size())};
  RequestMaker requests(options, std::move(facts.ordinary_tokens));
  const auto next_request = [&requests] { return requests.Next(); };
  const LoadPlan plan{.warmup = options.warmup,
                      .requests = options.requests,
                      .duration = options.duration,
                      .max_in_flight = options.max_in_flight(),
                      .rate = options.rate,
                      .arrival_seed = options.seed + kArrivalStream,
                      .request_timeout = options.request_timeout};
  // The engine's counters around the measured requests (and the ends of the warm-up requests
  // still running when they start).
  absl::StatusOr<pb::EngineCounters> before = absl::UnknownError("no measured request was sent");
  const LoadResult result = RunLoad(plan, stubs, next_request, [&] {
    before = ReadEngineCounters(*stubs[0], options.model, options.request_timeout);
  });
  const absl::StatusOr<pb::EngineCounters> after =
      ReadEngineCounters(*stubs[0], options.model, options.request_timeout);
  report.warmup_requests = static_cast<int64_t>(result.warmup_records.size());
  for (const RequestRecord& r : result.warmup_records) report.warmup_failed += r.ok() ? 0 : 1;
  if (before.ok() && after.ok()) report.engine = EngineUseBetween(*before, *after);
  report.summary = Summarize(result.records, result.seconds);
  report.held_by_cap = result.held_by_cap;
  return report;
}

int Main() {
  const absl::StatusOr<LoadOptions> options = ReadOptions();
  if (!options.ok()) {
    std::fprintf(stderr, "tessera-load: %s\n", std::string(options.status().message()).c_str());
    return kExitUsage;
  }
  const absl::StatusOr<RunReport> report = Run(*options);
  if (!report.ok()) {
    std::fprintf(stderr, "tessera-load: %s\n", report.status().ToString().c_str());
    return kExitCannotRun;
  }
  std::fputs(ReportTable(*report).c_str(), stdout);
  std::fflush(stdout);
  if (!options->json_path.empty()) {
    if (const absl::Status written = WriteJson(options->json_path, ReportJson(*report));
        !written.ok()) {
      std::fprintf(stderr, "tessera-load: %s\n", written.ToString().c_str());
      return kExitCannotRun;
    }
  }
  return report->summary.failed > 0 || report->warmup_failed > 0 ? kExitRequestsFailed : kExitOk;
}

}  // namespace
}  // namespace tessera::load

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "replays a mix of prompt and output lengths against a Tessera server through Generate "
      "streams and reports throughput and latencies.\n"
      "  tessera-load --server HOST:PORT --model NAME [--concurrency N | --rate R]\n"
      "               [--requests N | --duration D] [--warmup N] [--prompt_tokens 512]\n"
      "               [--output_tokens 256] [--shared_prefix_tokens K] [--seed S] [--json PATH]");
  absl::ParseCommandLine(argc, argv);
  return tessera::load::Main();
}
