#include "clients/cpp/model_commands.h"

#include <unistd.h>

#include <iostream>
#include <optional>

#include "clients/cpp/command_context.h"
#include "clients/cpp/error_output.h"
#include "clients/cpp/load_progress.h"
#include "clients/cpp/model_info_output.h"

namespace tessera::cli {
namespace {

namespace v1 = inference::v1;

int RunLoad(const CommandContext& context) {
  v1::LoadModelRequest request;
  request.set_name(context.args.arguments[0]);
  request.set_path(context.args.arguments[1]);
  request.set_device(context.args.Last("device").value_or(""));
  absl::StatusOr<std::optional<int64_t>> capacity =
      context.args.Number<int64_t>("kv_cache_tokens");
  if (!capacity.ok()) return ReportUsageError(capacity.status().message(), "load");
  request.set_kv_cache_capacity_tokens(capacity->value_or(0));
  absl::StatusOr<std::optional<double>> fraction =
      context.args.Number<double>("kv_cache_memory_fraction");
  if (!fraction.ok()) return ReportUsageError(fraction.status().message(), "load");
  request.set_kv_cache_memory_fraction(fraction->value_or(0));
  request.set_disable_prefix_sharing(context.args.Has("no_prefix_sharing"));

  grpc::ClientContext call;
  context.PrepareCall(call);
  std::unique_ptr<grpc::ClientReader<v1::LoadModelResponse>> stream =
      context.stub.LoadModel(&call, request);
  LoadProgressPrinter progress(std::cerr, isatty(STDERR_FILENO) != 0);
  std::optional<v1::ModelInfo> model;
  v1::LoadModelResponse response;
  while (stream->Read(&response)) {
    if (response.has_progress()) progress.Show(response.progress());
    if (response.has_model()) model = response.model();
  }
  progress.Finish();
  if (grpc::Status status = stream->Finish(); !status.ok()) return ReportRpcError(status);
  if (model.has_value()) PrintModelInfo(*model, std::cout);
  return kExitOk;
}

int RunUnload(const CommandContext& context) {
  v1::UnloadModelRequest request;
  request.set_name(context.args.arguments[0]);
  v1::UnloadModelResponse response;
  grpc::ClientContext call;
  context.PrepareCall(call);
  if (grpc::Status status = context.stub.UnloadModel(&call, request, &response); !status.ok()) {
    return ReportRpcError(status);
  }
  return kExitOk;
}

int RunList(const CommandContext& context) {
  v1::ListModelsResponse response;
  grpc::ClientContext call;
  context.PrepareCall(call);
  if (grpc::Status status = context.stub.ListModels(&call, {}, &response); !status.ok()) {
    return ReportRpcError(status);
  }
  PrintModelTable(response.models(), std::cout);
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> ModelCommands() {
  return {
      {.name = "load",
       .arguments = "NAME PATH",
       .summary = "Load the model file at PATH (on the server) under NAME.",
       .min_arguments = 2,
       .max_arguments = 2,
       .flags = {{.name = "device",
                  .value = "DEVICE",
                  .help = "cpu, cuda or cuda:N (default: the first GPU, else cpu)"},
                 {.name = "kv_cache_tokens",
                  .value = "N",
                  .help = "KV-cache capacity in tokens (default: the server's)"},
                 {.name = "kv_cache_memory_fraction",
                  .value = "F",
                  .help = "KV-cache capacity as a share, in (0, 1], of the memory the device has "
                          "free once the weights are in"},
                 {.name = "no_prefix_sharing",
                  .help = "compute every prompt's KV cache, sharing none between requests"}},
       .run = RunLoad},
      {.name = "unload",
       .arguments = "NAME",
       .summary = "Unload a model once its running requests finish.",
       .min_arguments = 1,
       .max_arguments = 1,
       .run = RunUnload},
      {.name = "list", .summary = "List the loaded models.", .run = RunList},
  };
}

}  // namespace tessera::cli
