// What a forward pass on the GPU reads besides the weights and activations: the tokens' ids,
// positions and the offset of each token's sequence's views, then the KV cache views (one per
// layer of each sequence in the pass); and the sequences' block tables, which the views point
// into.
// They are written in pinned host memory and reach the device in asynchronous copies before the
// pass runs: only the views the pass uses, and the block tables only where they changed since the
// last upload (a sequence gains a block every kKvBlockTokens positions), so a decode step usually
// costs one small transfer. The views stay at one address, which captured graphs hold; the block
// tables grow (and move) as contexts do.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

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

  // Copies the host side to the device on `stream`: the ids, positions and view offsets, the
  // first `used_views` views and the first `block_table_entries` block-table entries.
  cudaError_t Upload(int64_t used_views, int64_t block_table_entries, cudaStream_t stream);

  // The device side.   views: [views]; ids, positions, token_views: [tokens]
  const KvCacheView* views() const { return device_views_; }
  const int32_t* ids() const { return device_ids_; }
  const int32_t* positions() const { return device_positions_; }
  const int32_t* token_views() const { return device_token_views_; }
  const int32_t* block_tables() const { return device_tables_.data(); }

 private:
  int64_t views_ = 0;
  int64_t tokens_ = 0;
  // Both sides have one layout: the ids, the positions and the view offsets, then the views, so
  // that the part a pass uses is one range.
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
  std::vector<int32_t> uploaded_tables_;  // what device_tables_ begins with
};

}  // namespace tessera::cuda
