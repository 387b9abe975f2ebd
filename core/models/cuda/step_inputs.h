// What a forward pass on the GPU reads besides the weights and activations: one KV cache view per
// layer, then the tokens' ids and positions. They are written in pinned host memory and reach the
// device in one asynchronous copy, so a decode step costs one transfer before its graph runs.
#pragma once

#include <cstdint>
#include <span>

#include <cuda_runtime.h>

#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/kv_cache_view.h"

namespace tessera::cuda {

class StepInputs {
 public:
  // Room for `layers` views and `tokens` ids and positions, host and device.
  cudaError_t Allocate(int layers, int64_t tokens);

  // The host side, to fill before Upload.
  std::span<KvCacheView> host_views() { return {host_views_, static_cast<size_t>(layers_)}; }
  std::span<int32_t> host_ids() { return {host_ids_, static_cast<size_t>(tokens_)}; }
  std::span<int32_t> host_positions() { return {host_positions_, static_cast<size_t>(tokens_)}; }

  // Copies the host side to the device on `stream`.
  cudaError_t Upload(cudaStream_t stream) const;

  // The device side.   views: [layers]; ids, positions: [tokens]
  const KvCacheView* views() const { return device_views_; }
  const int32_t* ids() const { return device_ids_; }
  const int32_t* positions() const { return device_positions_; }

 private:
  int layers_ = 0;
  int64_t tokens_ = 0;
  // Both sides have one layout: the views, then the ids, then the positions.
  PinnedBuffer<uint8_t> host_;
  DeviceBuffer<uint8_t> device_;
  KvCacheView* host_views_ = nullptr;
  int32_t* host_ids_ = nullptr;
  int32_t* host_positions_ = nullptr;
  KvCacheView* device_views_ = nullptr;
  int32_t* device_ids_ = nullptr;
  int32_t* device_positions_ = nullptr;
};

}  // namespace tessera::cuda
