#include "core/util/error_reason.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace tessera {
namespace {
// Payload type URLs private to Tessera; only the server reads them.
constexpr absl::string_view kReasonUrl = "tessera/error_reason";
constexpr absl::string_view kFieldUrl = "tessera/field";
constexpr absl::string_view kRetryDelayUrl = "tessera/retry_delay";
}  // namespace

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  if (!status.ok()) status.SetPayload(kReasonUrl, absl::Cord(reason));
  return status;
}

std::optional<std::string> ErrorReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonUrl);
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  if (!status.ok()) status.SetPayload(kRetryDelayUrl, absl::Cord(absl::FormatDuration(delay)));
  return status;
}

std::optional<absl::Duration> RetryDelayOf(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryDelayUrl);
  absl::Duration delay;
  if (!payload || !absl::ParseDuration(std::string(*payload), &delay)) return std::nullopt;
  return delay;
}

std::optional<std::string> FieldOf(const absl::Status& status) {
  auto payload = status.GetPayload(kFieldUrl);
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

absl::Status InvalidField(absl::string_view field, absl::string_view description,
                          absl::string_view error_reason) {
  absl::Status status = absl::InvalidArgumentError(absl::StrCat(field, ": ", description));
  status.SetPayload(kFieldUrl, absl::Cord(field));
  return WithReason(std::move(status), error_reason);
}

}  // namespace tessera
