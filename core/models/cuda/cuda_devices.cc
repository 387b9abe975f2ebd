// The GPUs this process sees, for the server's device list.
#include <cuda_runtime.h>

#include "absl/strings/str_cat.h"
#include "core/models/cuda_backend.h"

namespace tessera {

int CudaDeviceCount() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

std::vector<CudaDeviceInfo> CudaDevices() {
  std::vector<CudaDeviceInfo> devices;
  for (int i = 0; i < CudaDeviceCount(); ++i) {
    CudaDeviceInfo info{.name = absl::StrCat("cuda:", i)};
    cudaDeviceProp properties;
    if (cudaGetDeviceProperties(&properties, i) == cudaSuccess) info.description = properties.name;
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      info.memory_total_bytes = static_cast<int64_t>(total_bytes);
      info.memory_free_bytes = static_cast<int64_t>(free_bytes);
    }
    devices.push_back(std::move(info));
  }
  return devices;
}

}  // namespace tessera
