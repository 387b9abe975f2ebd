// The CUDA bias add against the CPU backend's, for every bias dtype.
#if TESSERA_HAVE_CUDA

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/half.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/bias.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

using test::RandomFloats;

TEST(CudaBiasTest, MatchesCpuForEveryDtype) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (const DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (const auto& [n_rows, dim] : {std::pair<int64_t, int64_t>{1, 7}, {33, 896}, {5, 4096}}) {
      const std::vector<float> bias_values = RandomFloats(dim, 3);
      // The bias stored in `dtype`: 2 or 4 bytes per value.
      std::vector<uint16_t> bias16(dim);
      for (int64_t i = 0; i < dim; ++i) {
        bias16[i] = dtype == DType::kF16 ? cpu::FloatToHalf(bias_values[i])
                                         : cpu::FloatToBFloat16(bias_values[i]);
      }
      const void* bias_host = dtype == DType::kF32 ? static_cast<const void*>(bias_values.data())
                                                   : static_cast<const void*>(bias16.data());
      const Tensor bias(bias_host, dtype, {dim});
      std::vector<float> expected = RandomFloats(n_rows * dim, 4);
      auto x = test::ToDevice(expected);
      cpu::AddBias(expected.data(), bias, n_rows);

      cuda::DeviceBuffer<uint8_t> bias_device;
      ASSERT_EQ(bias_device.Allocate(bias.bytes()), cudaSuccess);
      ASSERT_EQ(cudaMemcpy(bias_device.data(), bias_host, bias.bytes(), cudaMemcpyHostToDevice),
                cudaSuccess);
      ASSERT_EQ(cuda::AddBias(x.data(), bias_device.data(), dtype, n_rows, dim, nullptr),
                cudaSuccess);
      // Both widen the same stored value and add once in fp32: identical results.
      EXPECT_EQ(test::ToHost(x), expected) << DTypeName(dtype) << " " << n_rows << "x" << dim;
    }
  }
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
