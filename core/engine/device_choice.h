// Which device a model runs on, from LoadModel's `device` string.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera {

struct DeviceChoice {
  bool cuda = false;
  int cuda_device = 0;  // when cuda

  std::string Name() const;  // "cpu" or "cuda:N"
};

// "cpu"; "cuda" (device 0) or "cuda:N"; empty for the default: the first GPU when there is one,
// else the CPU. INVALID_ARGUMENT (UNSUPPORTED_DEVICE) naming what exists for anything else, or
// for a GPU that `cuda_device_count` says is not there.
absl::StatusOr<DeviceChoice> ChooseDevice(std::string_view requested, int cuda_device_count);

}  // namespace tessera
