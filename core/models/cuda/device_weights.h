// Weights copied to one GPU, in the dtype the model file stores them in. Each host tensor is
// uploaded once: the views of a fused tensor are disjoint and go up separately, tied embeddings
// (one tensor used twice) share one copy.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "kernels/tensor.h"

namespace tessera::cuda {

class DeviceWeights {
 public:
  explicit DeviceWeights(int device) : device_(device) {}
  DeviceWeights(const DeviceWeights&) = delete;
  DeviceWeights& operator=(const DeviceWeights&) = delete;
  ~DeviceWeights();

  // The device copy of `host` (CPU memory), uploading it the first time it is asked for.
  // Errors: those of cudaMalloc and cudaMemcpy as a status.
  absl::StatusOr<Tensor> Upload(const Tensor& host);
  // Uploads the host tensors `*tensors` into one allocation, back to back in order, each
  // starting on a 256-byte boundary, and replaces each by its device copy: equal matrices then lie
  // a whole matrix apart, so one strided batched GEMM multiplies them all. A tensor uploaded
  // before (a tied one) keeps its earlier copy.
  absl::Status UploadTogether(std::span<Tensor* const> tensors);

  int64_t bytes() const { return bytes_; }

 private:
  int device_;
  absl::flat_hash_map<std::pair<const void*, size_t>, Tensor> uploaded_;  // by host data, bytes
  std::vector<void*> allocations_;
  int64_t bytes_ = 0;
};

}  // namespace tessera::cuda
