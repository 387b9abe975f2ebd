// The global flags that say which server to talk to and how long to wait for it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/cpp/command_line.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::cli {

struct ServerOptions {
  std::string address = {};
  std::optional<absl::Duration> timeout = std::nullopt;
};

// --server and --timeout, accepted before or after any command.
std::vector<FlagSpec> ServerFlags();

// Reads ServerFlags() from the command line.
absl::StatusOr<ServerOptions> ServerOptionsFrom(const ParsedArgs& args);

// A stub on an insecure channel to `options.address`.
std::unique_ptr<inference::v1::InferenceService::Stub> ConnectToServer(
    const ServerOptions& options);

}  // namespace tessera::cli
