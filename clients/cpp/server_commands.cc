#include "clients/cpp/server_commands.h"

#include <iostream>

#include "absl/strings/str_format.h"
#include "clients/cpp/command_context.h"
#include "clients/cpp/error_output.h"
#include "clients/cpp/model_info_output.h"

namespace tessera::cli {
namespace {

namespace v1 = inference::v1;

void PrintDevice(const v1::DeviceInfo& device, std::ostream& out) {
  out << absl::StreamFormat("  %-8s %s", device.name(), device.description());
  if (device.memory_total_bytes() > 0) {
    out << absl::StreamFormat(" (%s free of %s)", HumanBytes(device.memory_free_bytes()),
                              HumanBytes(device.memory_total_bytes()));
  }
  out << "\n";
}

int RunInfo(const CommandContext& context) {
  v1::GetServerInfoResponse response;
  grpc::ClientContext call;
  context.PrepareCall(call);
  if (grpc::Status status = context.stub.GetServerInfo(&call, {}, &response); !status.ok()) {
    return ReportRpcError(status);
  }
  std::cout << "version: " << response.version() << "\n"
            << "build:   " << response.build() << "\n"
            << "devices:\n";
  for (const v1::DeviceInfo& device : response.devices()) PrintDevice(device, std::cout);
  std::cout << "models:\n";
  PrintModelTable(response.models(), std::cout);
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> ServerCommands() {
  return {
      {.name = "info", .summary = "Show the server's version, build and devices.", .run = RunInfo},
  };
}

}  // namespace tessera::cli
