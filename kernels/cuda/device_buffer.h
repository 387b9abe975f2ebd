// DeviceBuffer: RAII ownership of a plain cudaMalloc allocation, for tests, benchmarks and
// callers that need scratch memory; PinnedBuffer: the same for page-locked host memory, which
// asynchronous copies need to stay asynchronous. Allocation failures are returned, not thrown.
#pragma once

#include <cstddef>
#include <vector>

#include <cuda_runtime.h>

namespace tessera::cuda {

// Device memory (cudaMalloc) and page-locked host memory (cudaMallocHost).
struct DeviceAllocator {
  static cudaError_t Allocate(void** p, size_t bytes) { return cudaMalloc(p, bytes); }
  static void Free(void* p) { cudaFree(p); }
};
struct PinnedHostAllocator {
  static cudaError_t Allocate(void** p, size_t bytes) { return cudaMallocHost(p, bytes); }
  static void Free(void* p) { cudaFreeHost(p); }
};

// `size` elements of T from Allocator, owned.
template <typename T, typename Allocator>
class CudaAllocation {
 public:
  CudaAllocation() = default;
  CudaAllocation(const CudaAllocation&) = delete;
  CudaAllocation& operator=(const CudaAllocation&) = delete;
  CudaAllocation(CudaAllocation&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  ~CudaAllocation() { Allocator::Free(data_); }

  // Replaces the contents with `size` uninitialized elements.
  cudaError_t Allocate(size_t size) {
    Allocator::Free(data_);
    data_ = nullptr;
    size_ = 0;
    void* data = nullptr;
    const cudaError_t error = Allocator::Allocate(&data, size * sizeof(T));
    if (error == cudaSuccess) {
      data_ = static_cast<T*>(data);
      size_ = size;
    }
    return error;
  }

  T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

template <typename T>
class DeviceBuffer : public CudaAllocation<T, DeviceAllocator> {
 public:
  // Allocates and copies `host` to the device (synchronously).
  cudaError_t Upload(const std::vector<T>& host) {
    const cudaError_t error = this->Allocate(host.size());
    if (error != cudaSuccess) return error;
    return cudaMemcpy(this->data(), host.data(), this->bytes(), cudaMemcpyHostToDevice);
  }

  // Allocates `size` elements set to zero by work queued on `stream` (which kernels queued there
  // after it see).
  cudaError_t AllocateZeroed(size_t size, cudaStream_t stream) {
    const cudaError_t error = this->Allocate(size);
    if (error != cudaSuccess) return error;
    return cudaMemsetAsync(this->data(), 0, this->bytes(), stream);
  }

  // Copies the whole buffer back to the host (synchronously).
  cudaError_t Download(std::vector<T>& host) const {
    host.resize(this->size());
    return cudaMemcpy(host.data(), this->data(), this->bytes(), cudaMemcpyDeviceToHost);
  }
};

template <typename T>
using PinnedBuffer = CudaAllocation<T, PinnedHostAllocator>;

}  // namespace tessera::cuda
