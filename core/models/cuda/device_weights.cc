#include "core/models/cuda/device_weights.h"

#include <cuda_runtime.h>

#include "core/models/cuda/cuda_status.h"
#include "core/util/status_macros.h"
#include "kernels/cpu/half.h"

namespace tessera::cuda {
namespace {

bool BecomesBf16(const Tensor& host) { return host.dtype == DType::kF32 && host.rank >= 2; }

}  // namespace

DeviceWeights::~DeviceWeights() {
  cudaSetDevice(device_);
  for (void* allocation : allocations_) cudaFree(allocation);
}

int64_t DeviceWeights::DeviceBytes(const Tensor& host) {
  return BecomesBf16(host) ? host.numel() * 2 : static_cast<int64_t>(host.bytes());
}

absl::StatusOr<Tensor> DeviceWeights::Upload(const Tensor& host) {
  const auto key = std::make_pair(host.data, host.bytes());
  if (const auto it = uploaded_.find(key); it != uploaded_.end()) return it->second;

  Tensor device = host;
  device.device = Device::kCuda;
  std::vector<uint16_t> converted;  // [numel] when the matrix becomes BF16
  const void* source = host.data;
  if (BecomesBf16(host)) {
    converted.resize(host.numel());
    const float* values = static_cast<const float*>(host.data);
    for (int64_t i = 0; i < host.numel(); ++i) converted[i] = cpu::FloatToBFloat16(values[i]);
    device.dtype = DType::kBF16;
    source = converted.data();
  }
  void* data = nullptr;
  TESSERA_RETURN_IF_CUDA_ERROR(cudaSetDevice(device_));
  TESSERA_RETURN_IF_CUDA_ERROR(cudaMalloc(&data, device.bytes()));
  allocations_.push_back(data);
  TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpy(data, source, device.bytes(), cudaMemcpyHostToDevice));
  device.data = data;
  bytes_ += static_cast<int64_t>(device.bytes());
  uploaded_.emplace(key, device);
  return device;
}

}  // namespace tessera::cuda
