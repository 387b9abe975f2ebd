// How the client reports failure: one line on stderr and an exit status a script can test.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace tessera::cli {

inline constexpr int kExitOk = 0;
// The server answered with an error, or could not be reached.
inline constexpr int kExitRpcError = 1;
// The command line was not understood.
inline constexpr int kExitUsage = 2;
// Stopped by Ctrl-C (128 + SIGINT, as shells report it).
inline constexpr int kExitInterrupted = 130;

// "<CODE>: <message> [reason=<ErrorInfo.reason>]"; the reason part only when the status carries
// a google.rpc.ErrorInfo detail.
std::string DescribeRpcError(const grpc::Status& status);

// Prints "error: " + DescribeRpcError(status) to stderr and returns kExitRpcError.
int ReportRpcError(const grpc::Status& status);

// Prints "error: <message>" and where to find usage to stderr and returns kExitUsage.
// `command` names the command whose usage to point at; empty points at the general usage.
int ReportUsageError(absl::string_view message, absl::string_view command = "");

}  // namespace tessera::cli
