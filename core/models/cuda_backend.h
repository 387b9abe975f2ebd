// Putting a model on a GPU: its weights uploaded once to device memory, its KV caches allocated
// there, and every step computed there; only token ids go in and the last position's logits come
// out. In a build without CUDA, there are no devices and uploading says so.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/models/model.h"

namespace tessera {

// CUDA devices this process can use; 0 in a build without CUDA.
int CudaDeviceCount();

struct CudaDeviceInfo {
  std::string name;         // "cuda:N"
  std::string description;  // the product name, e.g. "NVIDIA H100 80GB HBM3"
  int64_t memory_total_bytes = 0;
  int64_t memory_free_bytes = 0;
};
// One entry per device; empty in a build without CUDA.
std::vector<CudaDeviceInfo> CudaDevices();

// Called as bytes reach the device.
using UploadProgress = std::function<void(int64_t bytes_uploaded, int64_t bytes_total)>;

// The KV cache's dtype on a GPU unless asked otherwise: the weights' when they are 16-bit (half
// the bytes decode attention reads, at the precision the weights already have; head_dim a
// multiple of 8), else fp32.
DType DefaultCudaKvCacheDType(const ModelInfo& info);

// A copy of `model` (a Transformer; other models are UNIMPLEMENTED) on CUDA device `device`,
// its weights in the dtypes the file stores, its KV caches in `kv_cache_dtype`
// (DefaultCudaKvCacheDType when not given; info().kv_shape says which). `model` may be destroyed
// afterwards.
// Errors: RESOURCE_EXHAUSTED (OUT_OF_MEMORY) naming the bytes needed and free;
// INVALID_ARGUMENT (UNSUPPORTED_DEVICE) without such a device; INTERNAL for a CUDA error.
absl::StatusOr<std::unique_ptr<Model>> UploadToCuda(
    const Model& model, int device, const UploadProgress& progress,
    std::optional<DType> kv_cache_dtype = std::nullopt);

}  // namespace tessera
