#include "core/engine/device_choice.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"

namespace tessera {

std::string DeviceChoice::Name() const {
  return cuda ? absl::StrCat("cuda:", cuda_device) : "cpu";
}

absl::StatusOr<DeviceChoice> ChooseDevice(std::string_view requested, int cuda_device_count) {
  const absl::string_view name(requested.data(), requested.size());
  if (name.empty()) return DeviceChoice{.cuda = cuda_device_count > 0};
  if (name == "cpu") return DeviceChoice{};
  int index = -1;
  if (name == "cuda") {
    index = 0;
  } else if (absl::StartsWith(name, "cuda:") && !absl::SimpleAtoi(name.substr(5), &index)) {
    index = -1;
  }
  if (index >= 0 && index < cuda_device_count) return DeviceChoice{.cuda = true, .cuda_device = index};
  const std::string available =
      cuda_device_count == 0 ? "\"cpu\" (no CUDA device)"
      : cuda_device_count == 1 ? "\"cpu\", \"cuda\" or \"cuda:0\""
                               : absl::StrCat("\"cpu\", \"cuda\" or \"cuda:0\" to \"cuda:",
                                              cuda_device_count - 1, "\"");
  return WithReason(absl::InvalidArgumentError(absl::StrCat(
                        "device '", name, "' is not available; use ", available)),
                    reason::kUnsupportedDevice);
}

}  // namespace tessera
