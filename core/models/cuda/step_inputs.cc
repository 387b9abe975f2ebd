#include "core/models/cuda/step_inputs.h"

#include <algorithm>

namespace tessera::cuda {

cudaError_t StepInputs::Allocate(int64_t views, int64_t tokens) {
  // The views start 16-byte aligned, after the three arrays of ids.
  const size_t ids_bytes = (3 * tokens * sizeof(int32_t) + 15) / 16 * 16;
  const size_t bytes = ids_bytes + views * sizeof(KvCacheView);
  cudaError_t error = host_.Allocate(bytes);
  if (error == cudaSuccess) error = device_.Allocate(bytes);
  if (error != cudaSuccess) {
    views_ = 0;
    tokens_ = 0;
    return error;
  }
  views_ = views;
  tokens_ = tokens;
  host_ids_ = reinterpret_cast<int32_t*>(host_.data());
  host_positions_ = host_ids_ + tokens;
  host_token_views_ = host_ids_ + 2 * tokens;
  host_views_ = reinterpret_cast<KvCacheView*>(host_.data() + ids_bytes);
  device_ids_ = reinterpret_cast<int32_t*>(device_.data());
  device_positions_ = device_ids_ + tokens;
  device_token_views_ = device_ids_ + 2 * tokens;
  device_views_ = reinterpret_cast<KvCacheView*>(device_.data() + ids_bytes);
  return cudaSuccess;
}

cudaError_t StepInputs::ReserveBlockTables(int64_t entries) {
  // The device side is allocated last: if it has the room, both have.
  if (static_cast<int64_t>(device_tables_.size()) >= entries) return cudaSuccess;
  // Doubling, so that a growing context moves them a few times only.
  const int64_t size = std::max(entries, 2 * static_cast<int64_t>(host_tables_.size()));
  uploaded_tables_.clear();
  cudaError_t error = host_tables_.Allocate(size);
  if (error == cudaSuccess) error = device_tables_.Allocate(size);
  return error;
}

cudaError_t StepInputs::Upload(int64_t used_views, int64_t block_table_entries,
                               cudaStream_t stream) {
  const size_t bytes = reinterpret_cast<const uint8_t*>(host_views_ + used_views) - host_.data();
  cudaError_t error =
      cudaMemcpyAsync(device_.data(), host_.data(), bytes, cudaMemcpyHostToDevice, stream);
  const std::span<const int32_t> tables(host_tables_.data(), block_table_entries);
  if (error != cudaSuccess ||
      std::equal(tables.begin(), tables.end(), uploaded_tables_.begin(), uploaded_tables_.end())) {
    return error;
  }
  error = cudaMemcpyAsync(device_tables_.data(), tables.data(), tables.size_bytes(),
                          cudaMemcpyHostToDevice, stream);
  // Unknown after a failed copy: the next upload copies them again.
  uploaded_tables_.assign(error == cudaSuccess ? tables.begin() : tables.end(), tables.end());
  return error;
}

}  // namespace tessera::cuda
