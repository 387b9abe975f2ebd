#include "server/server_info.h"

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/models/cuda_backend.h"

namespace tessera::server {
namespace {

// The value after "<key>:" on the first line of `path` that starts with `key`, trimmed.
std::string ProcValue(const char* path, absl::string_view key) {
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, key)) continue;
    rest = absl::StripLeadingAsciiWhitespace(rest);
    if (!absl::ConsumePrefix(&rest, ":")) continue;
    return std::string(absl::StripAsciiWhitespace(rest));
  }
  return "";
}

// A /proc/meminfo entry ("MemTotal:  16318540 kB") in bytes; 0 if absent.
int64_t MeminfoBytes(absl::string_view key) {
  const std::string entry = ProcValue("/proc/meminfo", key);
  absl::string_view value = entry;
  int64_t kib = 0;
  if (!absl::ConsumeSuffix(&value, " kB") || !absl::SimpleAtoi(value, &kib)) return 0;
  return kib * 1024;
}

int64_t SysconfBytes(int pages_name) {
  const long pages = sysconf(pages_name);
  const long page_size = sysconf(_SC_PAGESIZE);
  return pages > 0 && page_size > 0 ? int64_t{pages} * page_size : 0;
}

}  // namespace

std::string ServerVersion() { return TESSERA_VERSION; }

std::string BuildDescription() {
  const int gpus = CudaDeviceCount();
  return absl::StrCat(TESSERA_COMPILER, ", ", TESSERA_BUILD_TYPE, ", backends: cpu",
                      gpus > 0 ? absl::StrCat(", cuda (", gpus, " devices)") : "");
}

inference::v1::DeviceInfo CpuDeviceInfo() {
  inference::v1::DeviceInfo device;
  device.set_name("cpu");
  std::string model_name = ProcValue("/proc/cpuinfo", "model name");
  if (model_name.empty()) model_name = "CPU";
  device.set_description(
      absl::StrCat(model_name, ", ", std::thread::hardware_concurrency(), " threads"));
  int64_t total = MeminfoBytes("MemTotal");
  int64_t available = MeminfoBytes("MemAvailable");
  if (total == 0) total = SysconfBytes(_SC_PHYS_PAGES);
  if (available == 0) available = SysconfBytes(_SC_AVPHYS_PAGES);
  device.set_memory_total_bytes(total);
  device.set_memory_free_bytes(available);
  return device;
}

std::vector<inference::v1::DeviceInfo> DeviceInfos() {
  std::vector<inference::v1::DeviceInfo> devices = {CpuDeviceInfo()};
  for (const CudaDeviceInfo& gpu : CudaDevices()) {
    inference::v1::DeviceInfo& device = devices.emplace_back();
    device.set_name(gpu.name);
    device.set_description(gpu.description);
    device.set_memory_total_bytes(gpu.memory_total_bytes);
    device.set_memory_free_bytes(gpu.memory_free_bytes);
  }
  return devices;
}

}  // namespace tessera::server
