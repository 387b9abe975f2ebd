// What GetServerInfo reports about this build and this machine.
#pragma once

#include <string>
#include <vector>

#include "tessera/inference/v1/inference.pb.h"

namespace tessera::server {

// The project version set in the top-level CMakeLists.txt.
std::string ServerVersion();

// Compiler, build type and enabled backends.
std::string BuildDescription();

// The CPU: its model name and core count, total and available memory (/proc/meminfo, or
// sysconf where that is missing).
inference::v1::DeviceInfo CpuDeviceInfo();

// The CPU, then every GPU (name "cuda:N", product name, device memory).
std::vector<inference::v1::DeviceInfo> DeviceInfos();

}  // namespace tessera::server
