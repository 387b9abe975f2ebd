#include "clients/cpp/error_output.h"

#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace tessera::cli {
namespace {

// The ErrorInfo.reason among the google.rpc.Status details the server packs into
// grpc::Status::error_details(); empty when there is none.
std::string ErrorReasonOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return "";
  }
  for (const google::protobuf::Any& detail : details.details()) {
    google::rpc::ErrorInfo info;
    if (detail.UnpackTo(&info)) return info.reason();
  }
  return "";
}

}  // namespace

std::string DescribeRpcError(const grpc::Status& status) {
  // gRPC and Abseil share the canonical google.rpc.Code numbering, so Abseil names gRPC's codes.
  std::string description = absl::StrCat(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())), ": ",
      status.error_message());
  if (const std::string reason = ErrorReasonOf(status); !reason.empty()) {
    absl::StrAppend(&description, " [reason=", reason, "]");
  }
  return description;
}

int ReportRpcError(const grpc::Status& status) {
  std::cerr << "error: " << DescribeRpcError(status) << "\n";
  return kExitRpcError;
}

int ReportUsageError(absl::string_view message, absl::string_view command) {
  std::cerr << "error: " << message << "\n"
            << "run 'tessera help" << (command.empty() ? "" : " ") << command
            << "' for usage\n";
  return kExitUsage;
}

}  // namespace tessera::cli
