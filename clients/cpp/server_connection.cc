#include "clients/cpp/server_connection.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace tessera::cli {

constexpr char kDefaultServer[] = "localhost:50051";

std::vector<FlagSpec> ServerFlags() {
  return {
      {.name = "server", .value = "HOST:PORT", .help = "server address (default localhost:50051)"},
      {.name = "timeout", .value = "DURATION", .help = "deadline of each call, e.g. 30s, 2m"},
  };
}

absl::StatusOr<ServerOptions> ServerOptionsFrom(const ParsedArgs& args) {
  ServerOptions options{.address = args.Last("server").value_or(kDefaultServer)};
  if (options.address.empty()) return absl::InvalidArgumentError("--server: empty address");
  if (const std::optional<std::string> timeout = args.Last("timeout")) {
    absl::Duration duration;
    if (!absl::ParseDuration(*timeout, &duration) || duration <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--timeout: expected a positive duration such as 30s, got '", *timeout, "'"));
    }
    options.timeout = duration;
  }
  return options;
}

std::unique_ptr<inference::v1::InferenceService::Stub> ConnectToServer(
    const ServerOptions& options) {
  return inference::v1::InferenceService::NewStub(
      grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials()));
}

}  // namespace tessera::cli
