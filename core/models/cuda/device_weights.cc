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
  Tensor device = host;
  Tensor* const one[] = {&device};
  TESSERA_RETURN_IF_ERROR(UploadTogether(one));
  return device;
}

absl::Status DeviceWeights::UploadTogether(std::span<Tensor* const> tensors) {
  constexpr size_t kAlignment = 256;
  const auto aligned = [](size_t bytes) {
    return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  };
  size_t total = 0;
  for (const Tensor* t : tensors) {
    if (!uploaded_.contains(std::make_pair(t->data, t->bytes()))) total += aligned(t->bytes());
  }
  char* data = nullptr;
  if (total > 0) {
    TESSERA_RETURN_IF_CUDA_ERROR(cudaSetDevice(device_));
    TESSERA_RETURN_IF_CUDA_ERROR(cudaMalloc(&data, total));
    allocations_.push_back(data);
  }
  for (Tensor* t : tensors) {
    const auto key = std::make_pair(t->data, t->bytes());
    if (const auto it = uploaded_.find(key); it != uploaded_.end()) {
      *t = it->second;
      continue;
    }
    TESSERA_RETURN_IF_CUDA_ERROR(cudaMemcpy(data, t->data, t->bytes(), cudaMemcpyHostToDevice));
    t->data = data;
    t->device = Device::kCuda;
    bytes_ += static_cast<int64_t>(t->bytes());
    uploaded_.emplace(key, *t);
    data += aligned(t->bytes());
  }
  return absl::OkStatus();
}

}  // namespace tessera::cuda
