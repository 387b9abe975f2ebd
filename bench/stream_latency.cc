#include "bench/stream_latency.h"

#include <chrono>
#include <memory>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/engine/engine.h"
#include "core/util/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "server/server.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::bench {
namespace {

namespace pb = ::tessera::inference::v1;
using Clock = std::chrono::steady_clock;

double MillisecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::vector<int32_t> RandomPrompt(int64_t n, int32_t vocab_size, uint32_t seed) {
  std::mt19937 rng(seed);
  // Past the filler vocabulary's unknown, BOS, EOS and byte tokens: ordinary pieces.
  std::uniform_int_distribution<int32_t> token(259, vocab_size - 1);
  std::vector<int32_t> prompt(n);
  for (int32_t& t : prompt) t = token(rng);
  return prompt;
}

// The arrival time of every token of one stream. A message that carries several tokens spreads
// its gap since the previous message evenly over them.
class TokenTimes {
 public:
  explicit TokenTimes(Clock::time_point start) : last_(start), start_(start) {}

  void Arrived(int tokens, Clock::time_point now) {
    if (tokens == 0) return;
    const double gap = MillisecondsBetween(last_, now) / tokens;
    for (int i = 0; i < tokens; ++i) {
      if (first_token_ms_ < 0) {
        first_token_ms_ = MillisecondsBetween(start_, last_) + gap;
      } else {
        gaps_.push_back(gap);
      }
      ++count_;
    }
    last_ = now;
  }

  void AddTo(LatencyFigures& figures) const {
    figures.time_to_first_token_ms.push_back(first_token_ms_);
    figures.inter_token_ms.insert(figures.inter_token_ms.end(), gaps_.begin(), gaps_.end());
  }
  int count() const { return count_; }

 private:
  Clock::time_point last_;
  Clock::time_point start_;
  double first_token_ms_ = -1;
  std::vector<double> gaps_;
  int count_ = 0;
};

class TimingSink : public GenerationSink {
 public:
  explicit TimingSink(Clock::time_point start) : times_(start) {}
  void OnStep(StepOutput output) override {
    times_.Arrived(static_cast<int>(output.tokens.size()), Clock::now());
  }
  void OnRunDone(absl::Status status) override {
    status_ = std::move(status);
    done_.Notify();
  }
  absl::Status Wait() {
    done_.WaitForNotification();
    return status_;
  }
  const TokenTimes& times() const { return times_; }

 private:
  TokenTimes times_;
  absl::Status status_;
  absl::Notification done_;
};

GenerationRequest EngineRequest(const LatencyOptions& options, int32_t vocab_size, uint32_t seed) {
  GenerationRequest request;
  request.prompt = RandomPrompt(options.prompt_tokens, vocab_size, seed);
  request.sampling.temperature = 0;
  request.stop.max_tokens = options.output_tokens;
  request.stop.ignore_eos = true;
  return request;
}

absl::Status FewerTokens(int got, int wanted) {
  return absl::InternalError(absl::StrCat("a stream gave ", got, " tokens of ", wanted));
}

}  // namespace

absl::StatusOr<LatencyFigures> MeasureInProcess(const LatencyOptions& options) {
  EngineOptions engine_options{.path = options.model_path,
                               .kv_cache_capacity_tokens = options.kv_cache_tokens};
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                           Engine::Load(engine_options, [](LoadStage, int64_t, int64_t) {}));
  const int32_t vocab_size = engine->model_info().vocab_size;
  LatencyFigures figures;
  double seconds = 0;
  int tokens = 0;
  for (int r = 0; r <= options.requests; ++r) {  // request 0 warms up
    TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<Sequence> sequence,
                             engine->CreateSequence(EngineRequest(options, vocab_size, r)));
    const Clock::time_point start = Clock::now();
    TimingSink sink(start);
    TESSERA_RETURN_IF_ERROR(engine->Run(sequence, RunOptions{}, &sink));
    TESSERA_RETURN_IF_ERROR(sink.Wait());
    if (sink.times().count() != options.output_tokens) {
      return FewerTokens(sink.times().count(), options.output_tokens);
    }
    if (r == 0) continue;
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    tokens += sink.times().count();
    sink.times().AddTo(figures);
  }
  figures.tokens_per_second = tokens / seconds;
  return figures;
}

absl::StatusOr<LatencyFigures> MeasureThroughGrpc(const LatencyOptions& options) {
  server::ServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  server_options.models = {{.name = "bench", .path = options.model_path}};
  server_options.kv_cache_tokens = options.kv_cache_tokens;
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<server::Server> server,
                           server::Server::Start(server_options));
  const auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                           grpc::InsecureChannelCredentials());
  const auto stub = pb::InferenceService::NewStub(channel);

  grpc::ClientContext info_context;
  pb::GetModelRequest model_request;
  model_request.set_name("bench");
  pb::GetModelResponse model;
  const grpc::Status got = stub->GetModel(&info_context, model_request, &model);
  if (!got.ok()) return absl::InternalError(absl::StrCat("GetModel: ", got.error_message()));
  const int32_t vocab_size = model.model().vocab_size();

  LatencyFigures figures;
  double seconds = 0;
  int tokens = 0;
  for (int r = 0; r <= options.requests; ++r) {  // request 0 warms up
    pb::GenerateRequest request;
    request.set_model("bench");
    for (int32_t id : RandomPrompt(options.prompt_tokens, vocab_size, r)) {
      request.mutable_prompt()->mutable_token_ids()->add_ids(id);
    }
    request.mutable_sampling()->set_temperature(0);
    request.mutable_stop()->set_max_tokens(options.output_tokens);
    request.mutable_stop()->set_ignore_eos(true);
    grpc::ClientContext context;
    const Clock::time_point start = Clock::now();
    TokenTimes times(start);
    const auto stream = stub->Generate(&context, request);
    pb::GenerateResponse response;
    while (stream->Read(&response)) times.Arrived(response.tokens_size(), Clock::now());
    const grpc::Status finished = stream->Finish();
    if (!finished.ok()) {
      return absl::InternalError(absl::StrCat("Generate: ", finished.error_message()));
    }
    if (times.count() != options.output_tokens) {
      return FewerTokens(times.count(), options.output_tokens);
    }
    if (r == 0) continue;
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    tokens += times.count();
    times.AddTo(figures);
  }
  figures.tokens_per_second = tokens / seconds;
  return figures;
}

}  // namespace tessera::bench
