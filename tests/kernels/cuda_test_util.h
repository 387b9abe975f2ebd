// Helpers for the CUDA kernel tests: skipping without a GPU, moving vectors to and from the
// device, and the error measure the comparisons with the CPU backend use.
#pragma once

#if TESSERA_HAVE_CUDA

#include <cmath>
#include <cstddef>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "kernels/cuda/device_buffer.h"

namespace tessera::test {

inline bool HasCudaDevice() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

// CI builds the CUDA backend on machines without a GPU.
#define TESSERA_SKIP_WITHOUT_CUDA_DEVICE()                     \
  do {                                                         \
    if (!::tessera::test::HasCudaDevice()) {                   \
      GTEST_SKIP() << "no CUDA device";                        \
    }                                                          \
  } while (0)

template <typename T>
cuda::DeviceBuffer<T> ToDevice(const std::vector<T>& host) {
  cuda::DeviceBuffer<T> buffer;
  EXPECT_EQ(buffer.Upload(host), cudaSuccess);
  return buffer;
}

// A device output filled with NaN, so that an element the kernel fails to write shows up.
inline cuda::DeviceBuffer<float> PoisonedOutput(size_t n) {
  return ToDevice(std::vector<float>(n, NAN));
}

template <typename T>
std::vector<T> ToHost(const cuda::DeviceBuffer<T>& buffer) {
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<T> host;
  EXPECT_EQ(buffer.Download(host), cudaSuccess);
  return host;
}

// ||actual - expected|| / ||expected|| in double precision; infinity if any value is NaN, so an
// unwritten (poisoned) element always fails.
inline double RelativeError(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double diff = 0;
  double norm = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(actual[i]) || std::isnan(expected[i])) return INFINITY;
    diff += (double{actual[i]} - expected[i]) * (double{actual[i]} - expected[i]);
    norm += double{expected[i]} * expected[i];
  }
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

}  // namespace tessera::test

#endif  // TESSERA_HAVE_CUDA
