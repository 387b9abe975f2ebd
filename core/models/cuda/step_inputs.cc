#include "core/models/cuda/step_inputs.h"

#include <algorithm>

namespace tessera::cuda {

cudaError_t StepInputs::Allocate(int64_t views, int64_t tokens) {
  const size_t views_bytes = views * sizeof(KvCacheView);
  const size_t ids_bytes = tokens * sizeof(int32_t);
  const size_t bytes = views_bytes + 3 * ids_bytes;
  cudaError_t error = host_.Allocate(bytes);
  if (error == cudaSuccess) error = device_.Allocate(bytes);
  if (error != cudaSuccess) {
    views_ = 0;
    tokens_ = 0;
    return error;
  }
  views_ = views;
  tokens_ = tokens;
  host_views_ = reinterpret_cast<KvCacheView*>(host_.data());
  host_ids_ = reinterpret_cast<int32_t*>(host_.data() + views_bytes);
  host_positions_ = reinterpret_cast<int32_t*>(host_.data() + views_bytes + ids_bytes);
  host_token_views_ = reinterpret_cast<int32_t*>(host_.data() + views_bytes + 2 * ids_bytes);
  device_views_ = reinterpret_cast<KvCacheView*>(device_.data());
  device_ids_ = reinterpret_cast<int32_t*>(device_.data() + views_bytes);
  device_positions_ = reinterpret_cast<int32_t*>(device_.data() + views_bytes + ids_bytes);
  device_token_views_ = reinterpret_cast<int32_t*>(device_.data() + views_bytes + 2 * ids_bytes);
  return cudaSuccess;
}

cudaError_t StepInputs::ReserveBlockTables(int64_t entries) {
  // The device side is allocated last: if it has the room, both have.
  if (static_cast<int64_t>(device_tables_.size()) >= entries) return cudaSuccess;
  // Doubling, so that a growing context moves them a few times only.
  const int64_t size = std::max(entries, 2 * static_cast<int64_t>(host_tables_.size()));
  cudaError_t error = host_tables_.Allocate(size);
  if (error == cudaSuccess) error = device_tables_.Allocate(size);
  return error;
}

cudaError_t StepInputs::Upload(int64_t block_table_entries, cudaStream_t stream) const {
  cudaError_t error =
      cudaMemcpyAsync(device_.data(), host_.data(), host_.bytes(), cudaMemcpyHostToDevice, stream);
  if (error != cudaSuccess || block_table_entries == 0) return error;
  return cudaMemcpyAsync(device_tables_.data(), host_tables_.data(),
                         block_table_entries * sizeof(int32_t), cudaMemcpyHostToDevice, stream);
}

}  // namespace tessera::cuda
