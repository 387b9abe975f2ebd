#include "server/status_mapping.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace tessera::server {
namespace {

// Errors without a Tessera reason (e.g. from a library) still get one, named after the code:
// clients then always find an ErrorInfo to branch on.
std::string GenericReason(absl::StatusCode code) {
  return absl::AsciiStrToUpper(absl::StatusCodeToString(code));
}

// The message without the "<field>: " prefix InvalidField puts in front of it.
std::string FieldDescription(absl::string_view message, const std::string& field) {
  const std::string prefix = absl::StrCat(field, ": ");
  if (absl::StartsWith(message, prefix)) message.remove_prefix(prefix.size());
  return std::string(message);
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;

  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(status.code()));
  rpc_status.set_message(std::string(status.message()));

  google::rpc::ErrorInfo error_info;
  error_info.set_reason(ErrorReasonOf(status).value_or(GenericReason(status.code())));
  error_info.set_domain(std::string(kErrorDomain));
  rpc_status.add_details()->PackFrom(error_info);

  if (std::optional<std::string> field = FieldOf(status)) {
    google::rpc::BadRequest bad_request;
    google::rpc::BadRequest::FieldViolation* violation = bad_request.add_field_violations();
    violation->set_field(*field);
    violation->set_description(FieldDescription(status.message(), *field));
    rpc_status.add_details()->PackFrom(bad_request);
  }

  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    google::rpc::RetryInfo retry_info;
    const int64_t nanos = absl::ToInt64Nanoseconds(*delay);
    retry_info.mutable_retry_delay()->set_seconds(nanos / 1'000'000'000);
    retry_info.mutable_retry_delay()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
    rpc_status.add_details()->PackFrom(retry_info);
  }

  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      rpc_status.SerializeAsString());
}

}  // namespace tessera::server
