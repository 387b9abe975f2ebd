// ToGrpcStatus: codes and messages carry over, and the details parse as a google.rpc.Status with
// the documented ErrorInfo (and BadRequest for field errors).
#include "server/status_mapping.h"

#include <string>
#include <utility>
#include <vector>

#include "core/util/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace tessera::server {
namespace {

google::rpc::Status ParseDetails(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  return details;
}

google::rpc::ErrorInfo ErrorInfoOf(const google::rpc::Status& details) {
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info;
  }
  ADD_FAILURE() << "no ErrorInfo in " << details.DebugString();
  return {};
}

bool HasBadRequest(const google::rpc::Status& details) {
  for (const google::protobuf::Any& any : details.details()) {
    if (any.Is<google::rpc::BadRequest>()) return true;
  }
  return false;
}

TEST(StatusMappingTest, OkStaysOkWithoutDetails) {
  const grpc::Status status = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(status.ok());
  EXPECT_TRUE(status.error_details().empty());
}

TEST(StatusMappingTest, EveryReasonReachesErrorInfo) {
  const std::vector<std::pair<absl::Status, grpc::StatusCode>> cases = {
      {absl::NotFoundError("m"), grpc::StatusCode::NOT_FOUND},
      {absl::AlreadyExistsError("m"), grpc::StatusCode::ALREADY_EXISTS},
      {absl::InvalidArgumentError("m"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::UnimplementedError("m"), grpc::StatusCode::UNIMPLEMENTED},
      {absl::ResourceExhaustedError("m"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::FailedPreconditionError("m"), grpc::StatusCode::FAILED_PRECONDITION},
      {absl::InternalError("m"), grpc::StatusCode::INTERNAL},
  };
  const std::vector<std::string> reasons = {
      "MODEL_NOT_FOUND",
      "MODEL_ALREADY_LOADED",
      "SESSION_NOT_FOUND",
      "REQUEST_NOT_FOUND",
      "MODEL_FILE_NOT_FOUND",
      "INVALID_MODEL_FILE",
      "UNSUPPORTED_ARCHITECTURE",
      "UNSUPPORTED_TENSOR_TYPE",
      "UNSUPPORTED_DEVICE",
      "INVALID_ARGUMENT",
      "CONTEXT_LENGTH_EXCEEDED",
      "KV_CACHE_FULL",
      "SESSION_BUSY",
      "SESSION_FINISHED",
      "FORWARD_PASS_FAILED",
      "DUPLICATE_REQUEST_ID",
      "EXCEEDS_KV_CACHE",
      "QUEUE_FULL",
  };
  for (const auto& [base, expected_code] : cases) {
    for (const std::string& reason : reasons) {
      const grpc::Status status = ToGrpcStatus(WithReason(base, reason));
      EXPECT_EQ(status.error_code(), expected_code);
      EXPECT_EQ(status.error_message(), "m");
      const google::rpc::Status details = ParseDetails(status);
      EXPECT_EQ(details.code(), static_cast<int>(expected_code));
      EXPECT_EQ(details.message(), "m");
      const google::rpc::ErrorInfo info = ErrorInfoOf(details);
      EXPECT_EQ(info.reason(), reason);
      EXPECT_EQ(info.domain(), "tessera.dev");
      EXPECT_FALSE(HasBadRequest(details)) << reason;
    }
  }
}

TEST(StatusMappingTest, FieldErrorCarriesBadRequest) {
  const grpc::Status status =
      ToGrpcStatus(InvalidField("sampling.temperature", "must be >= 0, got -1"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "sampling.temperature: must be >= 0, got -1");
  const google::rpc::Status details = ParseDetails(status);
  EXPECT_EQ(ErrorInfoOf(details).reason(), "INVALID_ARGUMENT");
  ASSERT_EQ(details.details_size(), 2);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(1).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "sampling.temperature");
  EXPECT_EQ(bad_request.field_violations(0).description(), "must be >= 0, got -1");
}

TEST(StatusMappingTest, FieldErrorKeepsItsOwnReason) {
  const grpc::Status status = ToGrpcStatus(
      InvalidField("stop.max_tokens", "too many", reason::kContextLengthExceeded));
  const google::rpc::Status details = ParseDetails(status);
  EXPECT_EQ(ErrorInfoOf(details).reason(), "CONTEXT_LENGTH_EXCEEDED");
  google::rpc::BadRequest bad_request;
  ASSERT_EQ(details.details_size(), 2);
  ASSERT_TRUE(details.details(1).UnpackTo(&bad_request));
  EXPECT_EQ(bad_request.field_violations(0).field(), "stop.max_tokens");
}

TEST(StatusMappingTest, RetryDelayBecomesRetryInfo) {
  const grpc::Status status = ToGrpcStatus(
      WithRetryDelay(WithReason(absl::ResourceExhaustedError("busy"), reason::kQueueFull),
                     absl::Milliseconds(1500)));
  const google::rpc::Status details = ParseDetails(status);
  EXPECT_EQ(ErrorInfoOf(details).reason(), "QUEUE_FULL");
  ASSERT_EQ(details.details_size(), 2);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(1).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 1);
  EXPECT_EQ(retry.retry_delay().nanos(), 500'000'000);
  // Without a delay, no RetryInfo.
  EXPECT_EQ(ParseDetails(ToGrpcStatus(absl::ResourceExhaustedError("m"))).details_size(), 1);
}

// Without a Tessera reason, the reason is the code's canonical name (as in google.rpc.Code).
TEST(StatusMappingTest, EveryCodeIsPreservedWithAGenericReason) {
  const std::vector<std::pair<grpc::StatusCode, std::string>> codes = {
      {grpc::StatusCode::CANCELLED, "CANCELLED"},
      {grpc::StatusCode::UNKNOWN, "UNKNOWN"},
      {grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {grpc::StatusCode::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
      {grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
      {grpc::StatusCode::ALREADY_EXISTS, "ALREADY_EXISTS"},
      {grpc::StatusCode::PERMISSION_DENIED, "PERMISSION_DENIED"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
      {grpc::StatusCode::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
      {grpc::StatusCode::ABORTED, "ABORTED"},
      {grpc::StatusCode::OUT_OF_RANGE, "OUT_OF_RANGE"},
      {grpc::StatusCode::UNIMPLEMENTED, "UNIMPLEMENTED"},
      {grpc::StatusCode::INTERNAL, "INTERNAL"},
      {grpc::StatusCode::UNAVAILABLE, "UNAVAILABLE"},
      {grpc::StatusCode::DATA_LOSS, "DATA_LOSS"},
      {grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED"},
  };
  for (const auto& [code, name] : codes) {
    const absl::Status status(static_cast<absl::StatusCode>(code), "why");
    const grpc::Status mapped = ToGrpcStatus(status);
    EXPECT_EQ(mapped.error_code(), code) << name;
    EXPECT_EQ(mapped.error_message(), "why");
    EXPECT_EQ(ErrorInfoOf(ParseDetails(mapped)).reason(), name);
  }
}

}  // namespace
}  // namespace tessera::server
