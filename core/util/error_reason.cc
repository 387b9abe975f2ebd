#include "core/util/error_reason.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace tessera {
namespace {
// Payload type URLs private to Tessera; only the server reads them.
constexpr absl::string_view kReasonUrl = "tessera/error_reason";
constexpr absl::string_view kFieldUrl = "tessera/field";
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
