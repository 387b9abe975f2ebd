// The CUDA batch-1 GEMVs against the CPU backend: Matmul with m = 1, plus AddBias for the fused
// q/k/v form and SwiGlu for the fused gate/up form.
#if TESSERA_HAVE_CUDA

#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/gemv.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// Weights hold values exact in every dtype and both backends accumulate in fp32, so only the
// summation order differs.
constexpr double kTolerance = 1e-5;

struct Shape {
  int64_t n, k;
};

// k a multiple of 16 bytes' worth of weights takes the vectorized path (with and without a
// remainder of the 4-load unroll); the others the element-wise one.
const Shape kShapes[] = {Shape{1, 8}, Shape{37, 4096}, Shape{300, 1032}, Shape{129, 13},
                         Shape{7, 1001}, Shape{1, 1}, Shape{5, 4}};

cuda::DeviceBuffer<char> WeightOnDevice(const test::StoredWeight& w) {
  cuda::DeviceBuffer<char> device;
  EXPECT_EQ(device.Allocate(w.tensor().bytes()), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(device.data(), w.tensor().data, w.tensor().bytes(), cudaMemcpyHostToDevice),
            cudaSuccess);
  return device;
}

class CudaGemvTest : public testing::TestWithParam<DType> {};

TEST_P(CudaGemvTest, MatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (const Shape s : kShapes) {
    const test::StoredWeight w(test::RandomWeightValues(s.n * s.k, 11), GetParam(), {s.n, s.k});
    const std::vector<float> x = test::RandomFloats(s.k, 12);
    std::vector<float> expected(s.n);
    cpu::Matmul(x.data(), w.tensor(), 1, expected.data());

    const cuda::DeviceBuffer<char> w_device = WeightOnDevice(w);
    auto x_device = test::ToDevice(x);
    auto y = test::PoisonedOutput(s.n);
    ASSERT_EQ(cuda::Gemv(w_device.data(), GetParam(), x_device.data(), s.n, s.k, y.data(),
                         nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(y), expected), kTolerance)
        << "n=" << s.n << " k=" << s.k;
  }
}

// q, k and v of different heights in one launch, each with a bias in a dtype of its own (GGUF
// files keep biases in F32 beside 16-bit matrices) or none.
TEST_P(CudaGemvTest, FusedMatricesMatchCpuWithTheirBiases) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  // 4096: rows long enough that two warps share each.
  for (const int64_t k : {int64_t{64}, int64_t{1001}, int64_t{4096}}) {
    const int64_t rows[] = {96, 32, 13};
    const DType bias_dtypes[] = {DType::kF32, GetParam(), DType::kBF16};
    std::vector<std::unique_ptr<test::StoredWeight>> weights, biases;
    std::vector<cuda::DeviceBuffer<char>> weights_device, biases_device;
    std::vector<cuda::DeviceBuffer<float>> outputs;
    std::vector<std::vector<float>> expected;
    std::vector<cuda::GemvMatrix> matrices;
    const std::vector<float> x = test::RandomFloats(k, 20);
    for (int m = 0; m < 3; ++m) {
      weights.push_back(std::make_unique<test::StoredWeight>(
          test::RandomWeightValues(rows[m] * k, 21 + m), GetParam(),
          std::initializer_list<int64_t>{rows[m], k}));
      expected.emplace_back(rows[m]);
      cpu::Matmul(x.data(), weights.back()->tensor(), 1, expected.back().data());
      weights_device.push_back(WeightOnDevice(*weights.back()));
      outputs.push_back(test::PoisonedOutput(rows[m]));
      cuda::GemvMatrix matrix{weights_device.back().data(), rows[m], outputs.back().data()};
      if (m < 2) {  // the last has no bias
        biases.push_back(std::make_unique<test::StoredWeight>(
            test::RandomWeightValues(rows[m], 31 + m), bias_dtypes[m],
            std::initializer_list<int64_t>{rows[m]}));
        cpu::AddBias(expected.back().data(), biases.back()->tensor(), 1);
        biases_device.push_back(WeightOnDevice(*biases.back()));
        matrix.bias = biases_device.back().data();
        matrix.bias_dtype = bias_dtypes[m];
      }
      matrices.push_back(matrix);
    }
    auto x_device = test::ToDevice(x);
    ASSERT_EQ(cuda::GemvFused(matrices, GetParam(), x_device.data(), k, nullptr), cudaSuccess);
    for (int m = 0; m < 3; ++m) {
      EXPECT_LT(test::RelativeError(test::ToHost(outputs[m]), expected[m]), kTolerance)
          << "matrix " << m << " k=" << k;
    }
  }
}

TEST_P(CudaGemvTest, SwiGluOfGateAndUpMatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (const Shape s : kShapes) {
    const test::StoredWeight gate(test::RandomWeightValues(s.n * s.k, 40), GetParam(),
                                  {s.n, s.k});
    const test::StoredWeight up(test::RandomWeightValues(s.n * s.k, 41), GetParam(), {s.n, s.k});
    const std::vector<float> x = test::RandomFloats(s.k, 42);
    std::vector<float> gate_out(s.n), up_out(s.n), expected(s.n);
    cpu::Matmul(x.data(), gate.tensor(), 1, gate_out.data());
    cpu::Matmul(x.data(), up.tensor(), 1, up_out.data());
    cpu::SwiGlu(gate_out.data(), up_out.data(), s.n, expected.data());

    const cuda::DeviceBuffer<char> gate_device = WeightOnDevice(gate);
    const cuda::DeviceBuffer<char> up_device = WeightOnDevice(up);
    auto x_device = test::ToDevice(x);
    auto y = test::PoisonedOutput(s.n);
    ASSERT_EQ(cuda::GemvSwiGlu(gate_device.data(), up_device.data(), GetParam(), x_device.data(),
                               s.n, s.k, y.data(), nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(y), expected), kTolerance)
        << "n=" << s.n << " k=" << s.k;
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaGemvTest,
                         testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         test::DTypeTestName);

TEST(CudaGemvPreconditionTest, RejectsMoreMatricesThanItFuses) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const std::vector<cuda::GemvMatrix> matrices(cuda::kMaxFusedGemvMatrices + 1);
  EXPECT_EQ(cuda::GemvFused(matrices, DType::kBF16, nullptr, 8, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cuda::GemvFused({}, DType::kBF16, nullptr, 8, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
