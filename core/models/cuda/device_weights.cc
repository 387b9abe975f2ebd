#include "core/models/cuda/device_weights.h"

#include <cuda_runtime.h>

#include "core/models/cuda/cuda_status.h"
#include "core/util/status_macros.h"

namespace tessera::cuda {
DeviceWeights::~DeviceWeights() {
  cudaSetDevice(device_);
  for (void* allocation : allocations_) cudaFree(allocation);
}

absl::StatusOr<Tensor> DeviceWeights::Upload(const Tensor& host) {
  const auto key = std::make_pair(host.data, host.bytes());
  if (const auto it = uploaded_.find(key); it != uploaded_.end()) return it->second;

  Tensor device = host;
  device.device = Device::kCuda;
  void* data = nullptr;
  TESSERA_RETURN_IF_CUDA_ERROR(cudaSetDevice(device_));
  TESSERA_RETURN_IF_CUDA_ERROR(cudaMalloc(&data, device.bytes()));
  allocations_.push_back(data);
  TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpy(data, host.data, device.bytes(), cudaMemcpyHostToDevice));
  device.data = data;
  bytes_ += static_cast<int64_t>(device.bytes());
  uploaded_.emplace(key, device);
  return device;
}

}  // namespace tessera::cuda
