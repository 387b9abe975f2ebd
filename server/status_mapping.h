// The one place an absl::Status becomes a grpc::Status. The code and message carry over; the
// details hold a serialized google.rpc.Status with a google.rpc.ErrorInfo (reason, domain
// "tessera.dev") and, for an error about one request field, a google.rpc.BadRequest.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace tessera::server {

inline constexpr std::string_view kErrorDomain = "tessera.dev";

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace tessera::server
