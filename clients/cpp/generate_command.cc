#include "clients/cpp/generate_command.h"

#include <atomic>
#include <iostream>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "clients/cpp/command_context.h"
#include "clients/cpp/error_output.h"
#include "clients/cpp/interrupt_watcher.h"
#include "core/util/status_macros.h"

namespace tessera::cli {
namespace {

namespace v1 = inference::v1;

// How long the Cancel sent on Ctrl-C may take before the call is abandoned instead.
constexpr absl::Duration kCancelTimeout = absl::Seconds(5);

// Chosen by the client, so that Cancel can name the generation before its first response.
std::string NewRequestId() {
  std::random_device random;
  const uint64_t bits = (static_cast<uint64_t>(random()) << 32) | random();
  return absl::StrFormat("cli-%016x", bits);
}

absl::StatusOr<v1::GenerateRequest> BuildRequest(const ParsedArgs& args) {
  v1::GenerateRequest request;
  request.set_model(*args.Last("model"));
  request.set_request_id(NewRequestId());
  request.mutable_prompt()->set_text(args.arguments[0]);

  v1::SamplingParams& sampling = *request.mutable_sampling();
  TESSERA_ASSIGN_OR_RETURN(std::optional<float> temperature, args.Number<float>("temperature"));
  if (temperature.has_value()) sampling.set_temperature(*temperature);
  TESSERA_ASSIGN_OR_RETURN(std::optional<int32_t> top_k, args.Number<int32_t>("top_k"));
  sampling.set_top_k(top_k.value_or(0));
  TESSERA_ASSIGN_OR_RETURN(std::optional<float> top_p, args.Number<float>("top_p"));
  if (top_p.has_value()) sampling.set_top_p(*top_p);
  TESSERA_ASSIGN_OR_RETURN(std::optional<uint64_t> seed, args.Number<uint64_t>("seed"));
  if (seed.has_value()) sampling.set_seed(*seed);

  v1::StopCriteria& stop = *request.mutable_stop();
  TESSERA_ASSIGN_OR_RETURN(std::optional<int32_t> max_tokens, args.Number<int32_t>("max_tokens"));
  stop.set_max_tokens(max_tokens.value_or(0));
  for (const std::string& stop_string : args.All("stop")) stop.add_stop_strings(stop_string);

  if (const std::optional<std::string> priority = args.Last("priority")) {
    v1::Priority value;
    if (!v1::Priority_Parse("PRIORITY_" + absl::AsciiStrToUpper(*priority), &value) ||
        value == v1::PRIORITY_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("--priority: expected low, normal or high, got '", *priority, "'"));
    }
    request.set_priority(value);
  }
  return request;
}

// FINISH_REASON_END_OF_SEQUENCE -> "end_of_sequence".
std::string FinishReasonName(v1::FinishReason reason) {
  std::string name(absl::StripPrefix(v1::FinishReason_Name(reason), "FINISH_REASON_"));
  absl::AsciiStrToLower(&name);
  return name;
}

// First Ctrl-C: ask the server to stop the generation, which then ends the stream with
// FINISH_REASON_CANCELLED. Again, or when Cancel fails: abandon the call.
class CancelOnInterrupt {
 public:
  CancelOnInterrupt(const CommandContext& context, const std::string& request_id,
                    grpc::ClientContext& call)
      : context_(context), request_id_(request_id), call_(call) {}

  bool interrupted() const { return interrupted_.load(); }

  void operator()() {
    if (interrupted_.exchange(true)) {
      call_.TryCancel();
      return;
    }
    v1::CancelRequest request;
    request.set_request_id(request_id_);
    v1::CancelResponse response;
    grpc::ClientContext cancel_call;
    cancel_call.set_deadline(absl::ToChronoTime(absl::Now() + kCancelTimeout));
    if (!context_.stub.Cancel(&cancel_call, request, &response).ok()) call_.TryCancel();
  }

 private:
  const CommandContext& context_;
  const std::string& request_id_;
  grpc::ClientContext& call_;
  std::atomic<bool> interrupted_ = false;
};

int RunGenerate(const CommandContext& context) {
  absl::StatusOr<v1::GenerateRequest> request = BuildRequest(context.args);
  if (!request.ok()) return ReportUsageError(request.status().message(), "generate");

  grpc::ClientContext call;
  context.PrepareCall(call);
  CancelOnInterrupt cancel(context, request->request_id(), call);
  InterruptWatcher watcher([&cancel] { cancel(); });

  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> stream =
      context.stub.Generate(&call, *request);
  v1::GenerateResponse response;
  v1::GenerateResponse last;
  bool wrote_text = false;
  if (context.args.Has("echo")) {
    std::cout << request->prompt().text() << std::flush;
    wrote_text = true;
  }
  while (stream->Read(&response)) {
    std::cout << response.text() << std::flush;
    wrote_text = wrote_text || !response.text().empty();
    last = response;
  }
  const grpc::Status status = stream->Finish();
  // Ends the completion's line; a call that failed before any text leaves stdout empty.
  if (status.ok() || wrote_text) std::cout << "\n" << std::flush;
  if (cancel.interrupted() && (status.error_code() == grpc::StatusCode::CANCELLED ||
                               last.finish_reason() == v1::FINISH_REASON_CANCELLED)) {
    std::cerr << "cancelled\n";
    return kExitInterrupted;
  }
  if (!status.ok()) return ReportRpcError(status);
  std::cerr << absl::StreamFormat(
      "finish_reason=%s prompt_tokens=%d cached_prompt_tokens=%d completion_tokens=%d\n",
      FinishReasonName(last.finish_reason()), last.usage().prompt_tokens(),
      last.usage().cached_prompt_tokens(), last.usage().completion_tokens());
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> GenerateCommands() {
  return {
      {.name = "generate",
       .arguments = "PROMPT",
       .summary = "Stream a completion of PROMPT; Ctrl-C cancels it.",
       .min_arguments = 1,
       .max_arguments = 1,
       .flags =
           {
               {.name = "model", .value = "NAME", .help = "the loaded model", .required = true},
               {.name = "max_tokens",
                .value = "N",
                .help = "most tokens to generate (default: until the context is full)"},
               {.name = "temperature", .value = "T", .help = "0 is greedy (default 1)"},
               {.name = "top_k", .value = "K", .help = "sample from the K most likely (0: all)"},
               {.name = "top_p", .value = "P", .help = "nucleus sampling mass in (0, 1]"},
               {.name = "seed", .value = "S", .help = "seed for reproducible sampling"},
               {.name = "stop", .value = "STR", .help = "stop before STR; may be repeated"},
               {.name = "priority",
                .value = "P",
                .help = "low, normal (default) or high: who is served first when requests "
                        "compete for the KV cache"},
               {.name = "echo", .help = "print the prompt before the completion"},
           },
       .run = RunGenerate},
  };
}

}  // namespace tessera::cli
