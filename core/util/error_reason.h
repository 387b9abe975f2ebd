// Stable, machine-readable error reasons. The engine attaches one to every error it returns;
// the server turns it into a google.rpc.ErrorInfo detail so clients branch on the reason, never
// on message text. Reasons are part of the API: add new ones, never rename.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tessera {

namespace reason {
inline constexpr absl::string_view kModelNotFound = "MODEL_NOT_FOUND";
inline constexpr absl::string_view kModelAlreadyLoaded = "MODEL_ALREADY_LOADED";
inline constexpr absl::string_view kSessionNotFound = "SESSION_NOT_FOUND";
inline constexpr absl::string_view kRequestNotFound = "REQUEST_NOT_FOUND";
inline constexpr absl::string_view kModelFileNotFound = "MODEL_FILE_NOT_FOUND";
inline constexpr absl::string_view kInvalidModelFile = "INVALID_MODEL_FILE";
inline constexpr absl::string_view kUnsupportedArchitecture = "UNSUPPORTED_ARCHITECTURE";
inline constexpr absl::string_view kUnsupportedTensorType = "UNSUPPORTED_TENSOR_TYPE";
inline constexpr absl::string_view kUnsupportedDevice = "UNSUPPORTED_DEVICE";
inline constexpr absl::string_view kInvalidArgument = "INVALID_ARGUMENT";
inline constexpr absl::string_view kContextLengthExceeded = "CONTEXT_LENGTH_EXCEEDED";
inline constexpr absl::string_view kKvCacheFull = "KV_CACHE_FULL";
inline constexpr absl::string_view kExceedsKvCache = "EXCEEDS_KV_CACHE";
inline constexpr absl::string_view kQueueFull = "QUEUE_FULL";
inline constexpr absl::string_view kDeviceOutOfMemory = "DEVICE_OUT_OF_MEMORY";
inline constexpr absl::string_view kSessionBusy = "SESSION_BUSY";
inline constexpr absl::string_view kSessionFinished = "SESSION_FINISHED";
inline constexpr absl::string_view kForkUnsupported = "FORK_UNSUPPORTED";
inline constexpr absl::string_view kForwardPassFailed = "FORWARD_PASS_FAILED";
inline constexpr absl::string_view kDuplicateRequestId = "DUPLICATE_REQUEST_ID";
inline constexpr absl::string_view kNoChatTemplate = "NO_CHAT_TEMPLATE";
}  // namespace reason

// Returns `status` carrying `reason`; an OK status is returned unchanged.
absl::Status WithReason(absl::Status status, absl::string_view reason);

// The reason attached by WithReason, if any.
std::optional<std::string> ErrorReasonOf(const absl::Status& status);

// Returns `status` carrying a hint to retry after `delay` (google.rpc.RetryInfo on the wire).
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// The delay attached by WithRetryDelay, if any.
std::optional<absl::Duration> RetryDelayOf(const absl::Status& status);

// The request field a bad-argument error is about (AIP-193 field violation), if any.
std::optional<std::string> FieldOf(const absl::Status& status);

// An INVALID_ARGUMENT status about one request field, e.g. ("sampling.temperature",
// "must be >= 0, got -1"). The message reads "<field>: <description>".
absl::Status InvalidField(absl::string_view field, absl::string_view description,
                          absl::string_view error_reason = reason::kInvalidArgument);

}  // namespace tessera
