// What a command runs with: its parsed command line and a stub connected to the server.
#pragma once

#include <optional>

#include "absl/time/time.h"
#include "clients/cpp/command_line.h"
#include "grpcpp/client_context.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::cli {

struct CommandContext {
  const ParsedArgs& args;
  inference::v1::InferenceService::Stub& stub;
  // --timeout: the longest any one call may take.
  std::optional<absl::Duration> timeout;

  // Sets the call's deadline from --timeout.
  void PrepareCall(grpc::ClientContext& call) const {
    if (timeout.has_value()) call.set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
  }
};

}  // namespace tessera::cli
