// Helpers for the CUDA kernel tests: skipping without a GPU, moving vectors to and from the
// device, and the error measure the comparisons with the CPU backend use.
#pragma once

#if TESSERA_HAVE_CUDA

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/tensor.h"

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

// Values stored on the device in an fp32, fp16 or bf16 array, as a KV cache holds them.
class DeviceValues {
 public:
  DeviceValues(const std::vector<float>& values, DType dtype) : dtype_(dtype) {
    if (dtype == DType::kF32) {
      EXPECT_EQ(f32_.Upload(values), cudaSuccess);
      return;
    }
    std::vector<uint16_t> stored;
    for (float v : values) {
      stored.push_back(dtype == DType::kF16 ? cpu::FloatToHalf(v) : cpu::FloatToBFloat16(v));
    }
    EXPECT_EQ(f16_.Upload(stored), cudaSuccess);
  }
  void* data() { return dtype_ == DType::kF32 ? static_cast<void*>(f32_.data()) : f16_.data(); }
  // The stored values widened back to fp32.
  std::vector<float> ToHostFloats() const {
    if (dtype_ == DType::kF32) return ToHost(f32_);
    const std::vector<uint16_t> stored = ToHost(f16_);
    std::vector<float> values;
    for (uint16_t v : stored) {
      values.push_back(dtype_ == DType::kF16 ? cpu::HalfToFloat(v) : cpu::BFloat16ToFloat(v));
    }
    return values;
  }

 private:
  DType dtype_;
  cuda::DeviceBuffer<float> f32_;
  cuda::DeviceBuffer<uint16_t> f16_;
};

// `values` rounded to `dtype` and widened back: what a kernel reads from a cache of that type.
inline std::vector<float> RoundedTo(std::vector<float> values, DType dtype) {
  for (float& v : values) {
    if (dtype == DType::kF16) v = cpu::HalfToFloat(cpu::FloatToHalf(v));
    if (dtype == DType::kBF16) v = cpu::BFloat16ToFloat(cpu::FloatToBFloat16(v));
  }
  return values;
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
