// What a forward pass on the GPU reads besides the weights and activations: the KV cache views
// (one per layer of each sequence in the pass), then the tokens' ids, positions and the offset of
// each token's sequence's views; and the sequences' block tables, which the views point into.
// They are written in pinned host memory and reach the device in two asynchronous copies, so a
// decode step costs two transfers before its graph runs. The views stay at one address, which
// captured graphs hold; the block tables grow (and move) as contexts do.
#pragma once

#include <cstdint>
#include <span>

#include <cuda_runtime.h>

#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/kv_cache_view.h"

namespace tessera::cuda {

class StepInputs {
 public:
  // Room for `views` views and `tokens` ids, positions and view offsets, host and device.
  cudaError_t Allocate(int64_t views, int64_t tokens);
  // Room for `entries` block-table entries, host and device, grown (moved) if there is less.
  // Call before filling host_block_tables, never while an Upload may still be reading it.
  cudaError_t ReserveBlockTables(int64_t entries);

  // The host side, to fill before Upload.
  std::span<KvCacheView> host_views() { return {host_views_, static_cast<size_t>(views_)}; }
  std::span<int32_t> host_ids() { return {host_ids_, static_cast<size_t>(tokens_)}; }
  std::span<int32_t> host_positions() { return {host_positions_, static_cast<size_t>(tokens_)}; }
  std::span<int32_t> host_token_views() {
    return {host_token_views_, static_cast<size_t>(tokens_)};
  }
  std::span<int32_t> host_block_tables() { return {host_tables_.data(), host_tables_.size()}; }

  // Copies the host side to the device on `stream`: everything but the block tables' entries
  // past `block_table_entries`.
  cudaError_t Upload(int64_t block_table_entries, cudaStream_t stream) const;

  // The device side.   views: [views]; ids, positions, token_views: [tokens]
  const KvCacheView* views() const { return device_views_; }
  const int32_t* ids() const { return device_ids_; }
  const int32_t* positions() const { return device_positions_; }
  const int32_t* token_views() const { return device_token_views_; }
  const int32_t* block_tables() const { return device_tables_.data(); }

 private:
  int64_t views_ = 0;
  int64_t tokens_ = 0;
  // Both sides have one layout: the views, then the ids, the positions and the view offsets.
  PinnedBuffer<uint8_t> host_;
  DeviceBuffer<uint8_t> device_;
  KvCacheView* host_views_ = nullptr;
  int32_t* host_ids_ = nullptr;
  int32_t* host_positions_ = nullptr;
  int32_t* host_token_views_ = nullptr;
  KvCacheView* device_views_ = nullptr;
  int32_t* device_ids_ = nullptr;
  int32_t* device_positions_ = nullptr;
  int32_t* device_token_views_ = nullptr;
  PinnedBuffer<int32_t> host_tables_;
  DeviceBuffer<int32_t> device_tables_;
};

}  // namespace tessera::cuda
