// DeviceBuffer: RAII ownership of a plain cudaMalloc allocation, for tests, benchmarks and
// callers that need scratch memory; PinnedBuffer: the same for page-locked host memory, which
// asynchronous copies need to stay asynchronous. Allocation failures are returned, not thrown.
#pragma once

#include <cstddef>
#include <vector>

#include <cuda_runtime.h>

namespace tessera::cuda {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  ~DeviceBuffer() { cudaFree(data_); }

  // Replaces the contents with `size` uninitialized elements.
  cudaError_t Allocate(size_t size) {
    cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
    const cudaError_t error = cudaMalloc(&data_, size * sizeof(T));
    if (error == cudaSuccess) size_ = size;
    return error;
  }

  // Allocates and copies `host` to the device (synchronously).
  cudaError_t Upload(const std::vector<T>& host) {
    const cudaError_t error = Allocate(host.size());
    if (error != cudaSuccess) return error;
    return cudaMemcpy(data_, host.data(), bytes(), cudaMemcpyHostToDevice);
  }

  // Copies the whole buffer back to the host (synchronously).
  cudaError_t Download(std::vector<T>& host) const {
    host.resize(size_);
    return cudaMemcpy(host.data(), data_, bytes(), cudaMemcpyDeviceToHost);
  }

  T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { cudaFreeHost(data_); }

  // Replaces the contents with `size` uninitialized elements.
  cudaError_t Allocate(size_t size) {
    cudaFreeHost(data_);
    data_ = nullptr;
    size_ = 0;
    const cudaError_t error = cudaMallocHost(&data_, size * sizeof(T));
    if (error == cudaSuccess) size_ = size;
    return error;
  }

  T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tessera::cuda
