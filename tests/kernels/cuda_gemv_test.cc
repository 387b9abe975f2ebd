// The CUDA batch-1 GEMVs against the CPU backend: Matmul with m = 1, plus AddBias for the fused
// q/k/v form (and Rope with the KV-cache store for its rotating form) and SwiGlu for the fused
// gate/up form.
#if TESSERA_HAVE_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/kv_cache_view.h"
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
// remainder of the 4-load unroll); the others the element-wise one. The vectorized path stages
// whole rows in shared memory where all the blocks fit on an H100 at once; the next three shapes
// have too many rows for that, and load into registers: two or four warps a row in one batch of
// loads each, one warp a row in one batch, and one warp a row in several batches. The last one's
// 16-bit rows fill an H100 block's 227 KB of shared memory exactly, leaving no room for the
// kernel's own, so the GPU refuses the staged launch and the rows load into registers.
const Shape kShapes[] = {Shape{1, 8},        Shape{37, 4096},   Shape{300, 1032}, Shape{129, 13},
                         Shape{7, 1001},     Shape{1, 1},       Shape{5, 4},      Shape{4000, 4096},
                         Shape{30000, 1024}, Shape{4000, 8200}, Shape{8, 14528}};

cuda::DeviceBuffer<char> WeightOnDevice(const test::StoredWeight& w) {
  cuda::DeviceBuffer<char> device;
  EXPECT_EQ(device.Allocate(w.tensor().bytes()), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(device.data(), w.tensor().data, w.tensor().bytes(), cudaMemcpyHostToDevice),
            cudaSuccess);
  return device;
}

constexpr float kNormEps = 1e-5f;

// x as the CPU backend's RmsNorm normalizes it with `weight`: what a GEMV given a GemvNorm takes.
std::vector<float> Normalized(const std::vector<float>& x, const test::StoredWeight& weight) {
  std::vector<float> out(x.size());
  cpu::RmsNorm(x.data(), weight.tensor(), kNormEps, 1, static_cast<int64_t>(x.size()), out.data());
  return out;
}

cuda::GemvNorm NormOnDevice(const cuda::DeviceBuffer<char>& weight, DType dtype) {
  return {.weight = weight.data(), .dtype = dtype, .eps = kNormEps};
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
  // 4096 and 6144 with 4045 rows, too many to stage in shared memory at once: rows long
  // enough that two or four warps share each (16-bit weights: two and three batches of loads;
  // fp32: four and six). The 141 rows are staged.
  for (const auto& [k, first_rows] :
       {std::pair{int64_t{64}, int64_t{96}}, std::pair{int64_t{1001}, int64_t{96}},
        std::pair{int64_t{4096}, int64_t{96}}, std::pair{int64_t{4096}, int64_t{4000}},
        std::pair{int64_t{6144}, int64_t{4000}}}) {
    const int64_t rows[] = {first_rows, 32, 13};
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
    ASSERT_EQ(cuda::GemvFused(matrices, GetParam(), x_device.data(), k, {}, nullptr), cudaSuccess);
    for (int m = 0; m < 3; ++m) {
      EXPECT_LT(test::RelativeError(test::ToHost(outputs[m]), expected[m]), kTolerance)
          << "matrix " << m << " k=" << k;
    }
  }
}

// One token's GEMV over the residual stream: x normalized by the GEMV itself (GemvNorm) and the
// product added to y (add_to_y), against the CPU's RmsNorm, Matmul and add; the norm's weight in
// fp32 (as GGUF files keep it beside 16-bit matrices) or bf16. k = 1004, a multiple of 4 but not
// of 8, takes the element-wise path for 16-bit weights. 300 rows are staged in shared memory;
// 4000 rows of 4096 and 6144 are too many for that and share rows between warps.
TEST_P(CudaGemvTest, NormalizedInputAndResidualAddMatchCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (const auto& [k, n] :
       {std::pair{int64_t{64}, int64_t{300}}, std::pair{int64_t{1004}, int64_t{300}},
        std::pair{int64_t{4096}, int64_t{300}}, std::pair{int64_t{4096}, int64_t{4000}},
        std::pair{int64_t{6144}, int64_t{4000}}}) {
    for (const DType norm_dtype : {DType::kF32, DType::kBF16}) {
      const test::StoredWeight w(test::RandomWeightValues(n * k, 70), GetParam(), {n, k});
      const test::StoredWeight norm(test::RandomWeightValues(k, 71), norm_dtype, {k});
      const std::vector<float> x = test::RandomFloats(k, 72);
      const std::vector<float> residual = test::RandomFloats(n, 73);
      std::vector<float> expected(n);
      cpu::Matmul(Normalized(x, norm).data(), w.tensor(), 1, expected.data());
      for (int64_t r = 0; r < n; ++r) expected[r] += residual[r];

      const cuda::DeviceBuffer<char> w_device = WeightOnDevice(w);
      const cuda::DeviceBuffer<char> norm_device = WeightOnDevice(norm);
      auto x_device = test::ToDevice(x);
      auto y = test::ToDevice(residual);
      const cuda::GemvMatrix matrix{
          .w = w_device.data(), .rows = n, .y = y.data(), .add_to_y = true};
      ASSERT_EQ(cuda::GemvFused({&matrix, 1}, GetParam(), x_device.data(), k,
                                NormOnDevice(norm_device, norm_dtype), nullptr),
                cudaSuccess);
      EXPECT_LT(test::RelativeError(test::ToHost(y), expected), kTolerance)
          << "n=" << n << " k=" << k << ", " << DTypeName(norm_dtype) << " norm";
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
                               s.n, s.k, {}, y.data(), nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(y), expected), kTolerance)
        << "n=" << s.n << " k=" << s.k;
  }
}

// One token's q/k/v GEMV with rotary embedding and the KV-cache store (GemvQkvRope) against the
// CPU's Matmul, AddBias and Rope, with the keys and values at the token's cache row: both
// pairings, partial rotation, LongRoPE's scale, biases, every cache dtype, three widths of k
// (the wider share each pair between warps), and x normalized by the GEMV (GemvNorm) or not.
TEST_P(CudaGemvTest, QkvWithRopeMatchesCpuAndStoresTheTokensKeysAndValues) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  struct RopeShape {
    int n_heads, n_kv_heads, head_dim, rotary_dim;
    cpu::RopeStyle style;
    float scale;
  };
  const int32_t position = 37;  // in the third block of a shuffled table
  const int64_t capacity = 64;
  const std::vector<int32_t> block_table = test::ShuffledBlockTable(capacity, 60);
  // Llama-3-8B's heads with k of 4096 or more are too many rows to stage in shared memory at once.
  for (const RopeShape r : {RopeShape{4, 2, 64, 64, cpu::RopeStyle::kHalves, 1.0f},
                            RopeShape{6, 3, 32, 32, cpu::RopeStyle::kAdjacentPairs, 1.0f},
                            RopeShape{5, 1, 80, 32, cpu::RopeStyle::kHalves, 1.1902f},
                            RopeShape{32, 8, 128, 128, cpu::RopeStyle::kHalves, 1.0f}}) {
    for (const auto& [k, normalized] :
         {std::pair{int64_t{256}, false}, std::pair{int64_t{256}, true},
          std::pair{int64_t{4096}, false}, std::pair{int64_t{4096}, true},
          std::pair{int64_t{6144}, false}}) {
      const int64_t q_rows = int64_t{r.n_heads} * r.head_dim;
      const int64_t kv_rows = int64_t{r.n_kv_heads} * r.head_dim;
      const test::StoredWeight wq(test::RandomWeightValues(q_rows * k, 61), GetParam(),
                                  {q_rows, k});
      const test::StoredWeight wk(test::RandomWeightValues(kv_rows * k, 62), GetParam(),
                                  {kv_rows, k});
      const test::StoredWeight wv(test::RandomWeightValues(kv_rows * k, 63), GetParam(),
                                  {kv_rows, k});
      const test::StoredWeight q_bias(test::RandomWeightValues(q_rows, 64), DType::kF32, {q_rows});
      const test::StoredWeight k_bias(test::RandomWeightValues(kv_rows, 65), DType::kF32,
                                      {kv_rows});
      const std::vector<float> x = test::RandomFloats(k, 66);
      const test::StoredWeight norm(test::RandomWeightValues(k, 67), GetParam(), {k});
      const std::vector<float> input = normalized ? Normalized(x, norm) : x;
      std::vector<float> inv_freq(r.rotary_dim / 2);
      for (int i = 0; i < r.rotary_dim / 2; ++i) {
        inv_freq[i] = std::pow(10000.0f, -2.0f * i / r.rotary_dim);
      }
      std::vector<float> q(q_rows), key(kv_rows), value(kv_rows);
      cpu::Matmul(input.data(), wq.tensor(), 1, q.data());
      cpu::Matmul(input.data(), wk.tensor(), 1, key.data());
      cpu::Matmul(input.data(), wv.tensor(), 1, value.data());
      cpu::AddBias(q.data(), q_bias.tensor(), 1);
      cpu::AddBias(key.data(), k_bias.tensor(), 1);
      cpu::Rope(q.data(), &position, 1, r.n_heads, r.head_dim, r.rotary_dim, inv_freq.data(),
                r.style, r.scale);
      cpu::Rope(key.data(), &position, 1, r.n_kv_heads, r.head_dim, r.rotary_dim, inv_freq.data(),
                r.style, r.scale);

      const cuda::DeviceBuffer<char> wq_device = WeightOnDevice(wq);
      const cuda::DeviceBuffer<char> wk_device = WeightOnDevice(wk);
      const cuda::DeviceBuffer<char> wv_device = WeightOnDevice(wv);
      const cuda::DeviceBuffer<char> q_bias_device = WeightOnDevice(q_bias);
      const cuda::DeviceBuffer<char> k_bias_device = WeightOnDevice(k_bias);
      const cuda::DeviceBuffer<char> norm_device = WeightOnDevice(norm);
      const cuda::GemvNorm gemv_norm =
          normalized ? NormOnDevice(norm_device, GetParam()) : cuda::GemvNorm{};
      auto x_device = test::ToDevice(x);
      auto q_out = test::PoisonedOutput(q_rows);
      auto position_device = test::ToDevice(std::vector<int32_t>{position});
      auto inv_freq_device = test::ToDevice(inv_freq);
      auto table_device = test::ToDevice(block_table);
      for (const DType cache_dtype : test::kAllDTypes) {
        const std::vector<float> empty =
            test::ToBlocks(std::vector<float>(capacity * kv_rows, 0.0f), kv_rows, block_table);
        test::DeviceValues keys(empty, cache_dtype);
        test::DeviceValues values(empty, cache_dtype);
        auto view = test::ToDevice(std::vector<cuda::KvCacheView>{
            {keys.data(), values.data(), table_device.data(), /*length=*/0}});
        const cuda::GemvMatrix qkv[3] = {
            {wq_device.data(), q_rows, q_out.data(), q_bias_device.data(), DType::kF32},
            {wk_device.data(), kv_rows, nullptr, k_bias_device.data(), DType::kF32},
            {wv_device.data(), kv_rows, nullptr}};
        const cuda::GemvRope rope{.position = position_device.data(),
                                  .inv_freq = inv_freq_device.data(),
                                  .rotary_dim = r.rotary_dim,
                                  .style = r.style,
                                  .scale = r.scale,
                                  .head_dim = r.head_dim,
                                  .cache = view.data(),
                                  .cache_dtype = cache_dtype};
        ASSERT_EQ(cuda::GemvQkvRope(qkv, GetParam(), x_device.data(), k, gemv_norm, rope, nullptr),
                  cudaSuccess);
        SCOPED_TRACE(testing::Message()
                     << "head_dim " << r.head_dim << ", rotary_dim " << r.rotary_dim << ", k " << k
                     << (normalized ? ", normalized" : "") << ", " << DTypeName(cache_dtype)
                     << " cache");
        EXPECT_LT(test::RelativeError(test::ToHost(q_out), q), kTolerance);
        const std::vector<float> stored_keys =
            test::FromBlocks(keys.ToHostFloats(), kv_rows, block_table, capacity);
        const std::vector<float> stored_values =
            test::FromBlocks(values.ToHostFloats(), kv_rows, block_table, capacity);
        const auto row = [&](const std::vector<float>& rows, int64_t p) {
          return std::vector<float>(rows.begin() + p * kv_rows, rows.begin() + (p + 1) * kv_rows);
        };
        // A 16-bit cache holds the values rounded; an ulp of difference before rounding may
        // move one to the neighbouring 16-bit value.
        const double tolerance = cache_dtype == DType::kF32 ? kTolerance : 1e-3;
        EXPECT_LT(
            test::RelativeError(row(stored_keys, position), test::RoundedTo(key, cache_dtype)),
            tolerance);
        EXPECT_LT(
            test::RelativeError(row(stored_values, position), test::RoundedTo(value, cache_dtype)),
            tolerance);
        // No other row written.
        EXPECT_EQ(row(stored_keys, position - 1), std::vector<float>(kv_rows, 0.0f));
        EXPECT_EQ(row(stored_values, position + 1), std::vector<float>(kv_rows, 0.0f));
      }
    }
  }
}

// GemvSwiGlu normalizing its input (GemvNorm) against the CPU's RmsNorm, Matmul and SwiGlu, its
// rows staged in shared memory (37 rows) or, too many for that, loaded into registers (4000).
TEST_P(CudaGemvTest, SwiGluOfNormalizedInputMatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (const auto& [k, n] :
       {std::pair{int64_t{896}, int64_t{37}}, std::pair{int64_t{4096}, int64_t{37}},
        std::pair{int64_t{896}, int64_t{30000}}, std::pair{int64_t{4096}, int64_t{4000}}}) {
    const test::StoredWeight gate(test::RandomWeightValues(n * k, 80), GetParam(), {n, k});
    const test::StoredWeight up(test::RandomWeightValues(n * k, 81), GetParam(), {n, k});
    const test::StoredWeight norm(test::RandomWeightValues(k, 82), DType::kF32, {k});
    const std::vector<float> x = test::RandomFloats(k, 83);
    const std::vector<float> normalized = Normalized(x, norm);
    std::vector<float> gate_out(n), up_out(n), expected(n);
    cpu::Matmul(normalized.data(), gate.tensor(), 1, gate_out.data());
    cpu::Matmul(normalized.data(), up.tensor(), 1, up_out.data());
    cpu::SwiGlu(gate_out.data(), up_out.data(), n, expected.data());

    const cuda::DeviceBuffer<char> gate_device = WeightOnDevice(gate);
    const cuda::DeviceBuffer<char> up_device = WeightOnDevice(up);
    const cuda::DeviceBuffer<char> norm_device = WeightOnDevice(norm);
    auto x_device = test::ToDevice(x);
    auto y = test::PoisonedOutput(n);
    ASSERT_EQ(cuda::GemvSwiGlu(gate_device.data(), up_device.data(), GetParam(), x_device.data(), n,
                               k, NormOnDevice(norm_device, DType::kF32), y.data(), nullptr),
              cudaSuccess);
    EXPECT_LT(test::RelativeError(test::ToHost(y), expected), kTolerance)
        << "n=" << n << " k=" << k;
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, CudaGemvTest,
                         testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         test::DTypeTestName);

TEST(CudaGemvPreconditionTest, RejectsMoreMatricesThanItFuses) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const std::vector<cuda::GemvMatrix> matrices(cuda::kMaxFusedGemvMatrices + 1);
  EXPECT_EQ(cuda::GemvFused(matrices, DType::kBF16, nullptr, 8, {}, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(cuda::GemvFused({}, DType::kBF16, nullptr, 8, {}, nullptr), cudaErrorInvalidValue);
}

// A block normalizes x in float4s: k must be a multiple of 4.
TEST(CudaGemvPreconditionTest, RejectsANormOfAnInputNotInWholeFloat4s) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  auto w = test::ToDevice(std::vector<float>(6 * 6, 1.0f));
  auto x = test::ToDevice(std::vector<float>(6, 1.0f));
  auto norm = test::ToDevice(std::vector<float>(6, 1.0f));
  auto y = test::PoisonedOutput(6);
  const cuda::GemvMatrix matrix{.w = w.data(), .rows = 6, .y = y.data()};
  const cuda::GemvNorm gemv_norm{.weight = norm.data(), .dtype = DType::kF32, .eps = kNormEps};
  EXPECT_EQ(cuda::GemvFused({&matrix, 1}, DType::kF32, x.data(), 6, gemv_norm, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(cuda::GemvFused({&matrix, 1}, DType::kF32, x.data(), 6, {}, nullptr), cudaSuccess);
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
