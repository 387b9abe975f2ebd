// The CUDA flash-style prefill attention kernels, fp32 and tensor-core, against the CPU
// backend's causal attention, with and without a sliding window, on paged caches whose blocks
// lie in shuffled order in pools with unused, NaN-filled blocks.
#if TESSERA_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <utility>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/attention_prefill.h"
#include "kernels/cuda/attention_prefill_tensor_core.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// fp32 q and arithmetic in both backends, on the same cache values (rounded to a 16-bit cache's
// type first); the GPU sums in tiles with a running softmax and exp2, the CPU in one pass with
// exp, so results differ by fp32 rounding only.
constexpr double kTolerance = 1e-5;
constexpr double kBf16Tolerance = 2e-2;

struct PrefillCase {
  int64_t n_tokens;
  int64_t first_position;
  int n_heads;
  int n_kv_heads;
  int head_dim;
  int64_t sliding_window = 0;
  DType cache_dtype = DType::kF32;
};

void PrintTo(const PrefillCase& c, std::ostream* os) {
  *os << c.n_tokens << " tokens from position " << c.first_position << ", " << c.n_heads << "q/"
      << c.n_kv_heads << "kv heads, head_dim " << c.head_dim << ", window " << c.sliding_window
      << ", " << DTypeName(c.cache_dtype) << " cache";
}

// The inputs of one case and the CPU's fp32 result.
struct PrefillInputs {
  cpu::AttentionShape shape;
  std::vector<float> q;
  std::vector<int32_t> block_table;
  std::vector<float> k_cache, v_cache;  // pools of blocks
  std::vector<float> expected;
};

PrefillInputs MakeInputs(const PrefillCase& c) {
  PrefillInputs in;
  in.shape = {c.n_heads, c.n_kv_heads, c.head_dim,
              1.0f / std::sqrt(static_cast<float>(c.head_dim)), c.sliding_window};
  const int64_t q_size = c.n_tokens * c.n_heads * c.head_dim;
  const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
  const int64_t n_positions = c.first_position + c.n_tokens;
  in.q = test::RandomFloats(q_size, 26);
  std::vector<float> keys = test::RandomFloats(n_positions * kv_dim, 27);
  for (float& k : keys) k *= 4;  // peaked softmax: key tiles with very different maxima
  keys = test::RoundedTo(std::move(keys), c.cache_dtype);
  std::vector<float> values =
      test::RoundedTo(test::RandomFloats(n_positions * kv_dim, 28), c.cache_dtype);
  // Positions before the first query's window are seen by no query and hold NaN: a kernel that
  // reads them, even to mask them, fails.
  if (c.sliding_window > 0 && c.first_position >= c.sliding_window) {
    const int64_t hidden = (c.first_position - c.sliding_window + 1) * kv_dim;
    std::fill(keys.begin(), keys.begin() + hidden, NAN);
    std::fill(values.begin(), values.begin() + hidden, NAN);
  }
  in.block_table = test::ShuffledBlockTable(n_positions, 29);
  in.k_cache = test::ToBlocks(keys, kv_dim, in.block_table);
  in.v_cache = test::ToBlocks(values, kv_dim, in.block_table);
  in.expected.resize(q_size);
  cpu::Attention(in.q.data(), in.k_cache.data(), in.v_cache.data(), in.block_table.data(),
                 c.n_tokens, c.first_position, in.shape, in.expected.data());
  return in;
}

using PrefillKernel = cudaError_t (*)(const float*, const cuda::KvCacheView*, DType, int64_t,
                                      int64_t, const cpu::AttentionShape&, void*, DType,
                                      cudaStream_t);

// The kernel's output for the case (stored in out_dtype, widened back), or the launch error.
cudaError_t RunOnDevice(PrefillKernel kernel, const PrefillCase& c, const PrefillInputs& in,
                        std::vector<float>& out, DType out_dtype = DType::kF32) {
  auto q_device = test::ToDevice(in.q);
  test::DeviceValues k_device(in.k_cache, c.cache_dtype);
  test::DeviceValues v_device(in.v_cache, c.cache_dtype);
  auto table_device = test::ToDevice(in.block_table);
  // The kernels take first_position + n_tokens as the cache's length, not the view's.
  auto view = test::ToDevice(std::vector<cuda::KvCacheView>{
      {k_device.data(), v_device.data(), table_device.data(), /*length=*/0}});
  // Poisoned: an element the kernel fails to write stays NaN.
  test::DeviceValues out_device(std::vector<float>(in.q.size(), NAN), out_dtype);
  const cudaError_t error =
      kernel(q_device.data(), view.data(), c.cache_dtype, c.n_tokens, c.first_position, in.shape,
             out_device.data(), out_dtype, nullptr);
  if (error == cudaSuccess) out = out_device.ToHostFloats();
  return error;
}

class CudaAttentionPrefillTest : public testing::TestWithParam<PrefillCase> {};

TEST_P(CudaAttentionPrefillTest, MatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const PrefillInputs in = MakeInputs(GetParam());
  std::vector<float> out;
  ASSERT_EQ(RunOnDevice(cuda::AttentionPrefill, GetParam(), in, out), cudaSuccess);
  EXPECT_LT(test::RelativeError(out, in.expected), kTolerance);
}

// Q, K, V and the probabilities rounded to bf16 (relative steps of 2^-8) with fp32 accumulation:
// the output's relative error is a few of those steps, and far above 1e-5 (so the test would
// notice the fp32 kernel being run instead). Shapes it is not built for are refused.
TEST_P(CudaAttentionPrefillTest, TensorCoreKernelMatchesCpuWithinBf16Rounding) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const PrefillInputs in = MakeInputs(GetParam());
  std::vector<float> out;
  const cudaError_t error = RunOnDevice(cuda::AttentionPrefillTensorCore, GetParam(), in, out);
  if (!cuda::AttentionPrefillTensorCoreSupports(in.shape)) {
    EXPECT_EQ(error, cudaErrorInvalidValue);
    return;
  }
  ASSERT_EQ(error, cudaSuccess);
  const double relative_error = test::RelativeError(out, in.expected);
  EXPECT_LT(relative_error, kBf16Tolerance);
  EXPECT_GT(relative_error, 1e-5);
}

// A bf16 output (the o projection's operand in a bf16 model) is the fp32 output rounded to
// nearest, value for value.
void ExpectBf16OutputIsFp32OutputRounded(PrefillKernel kernel, const PrefillCase& c,
                                         const PrefillInputs& in) {
  std::vector<float> fp32_out, bf16_out;
  ASSERT_EQ(RunOnDevice(kernel, c, in, fp32_out), cudaSuccess);
  ASSERT_EQ(RunOnDevice(kernel, c, in, bf16_out, DType::kBF16), cudaSuccess);
  EXPECT_EQ(bf16_out, test::RoundedTo(fp32_out, DType::kBF16));
}

TEST_P(CudaAttentionPrefillTest, WritesTheFp32ResultRoundedToBf16) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  ExpectBf16OutputIsFp32OutputRounded(cuda::AttentionPrefill, GetParam(), MakeInputs(GetParam()));
}

TEST_P(CudaAttentionPrefillTest, TensorCoreKernelWritesTheFp32ResultRoundedToBf16) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const PrefillInputs in = MakeInputs(GetParam());
  if (!cuda::AttentionPrefillTensorCoreSupports(in.shape)) GTEST_SKIP() << "not built for";
  ExpectBf16OutputIsFp32OutputRounded(cuda::AttentionPrefillTensorCore, GetParam(), in);
}

// Token counts below, at and across the 64-query tile (1, 17, 64, 130, 513); an empty cache and
// one holding 37 earlier positions (tiles that straddle the causal diagonal); GQA ratios 1, 4, 8;
// head_dim 64, 128, 256 and the non-power-of-two 80 and 96 (Phi-3); Qwen2.5-0.5B's GQA ratio of
// 7; a prompt of 1000 tokens.
INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaAttentionPrefillTest,
    testing::Values(PrefillCase{1, 0, 8, 8, 64}, PrefillCase{1, 37, 32, 8, 128},
                    PrefillCase{17, 0, 8, 2, 80}, PrefillCase{17, 37, 4, 1, 256},
                    PrefillCase{64, 0, 8, 1, 128}, PrefillCase{64, 37, 4, 4, 80},
                    PrefillCase{130, 0, 4, 4, 128}, PrefillCase{130, 37, 8, 1, 80},
                    PrefillCase{513, 0, 16, 2, 64}, PrefillCase{513, 37, 8, 2, 128},
                    PrefillCase{200, 0, 32, 32, 96}, PrefillCase{65, 37, 14, 2, 64},
                    PrefillCase{1000, 0, 8, 8, 128}));

// Windows of one position; not a multiple of the 64-key tile (50, 63, 65, 100, 1000), so the
// windows of a query tile's rows start inside a key tile; query tiles whose first rows still see
// position 0 and whose last rows do not; windows as long as the context and longer; a long cache
// with a short window; GQA ratios 1, 2, 4, 8.
INSTANTIATE_TEST_SUITE_P(
    SlidingWindow, CudaAttentionPrefillTest,
    testing::Values(PrefillCase{130, 0, 8, 2, 80, 1}, PrefillCase{17, 37, 4, 4, 64, 1},
                    PrefillCase{130, 37, 4, 1, 128, 50}, PrefillCase{77, 10, 6, 3, 80, 63},
                    PrefillCase{64, 300, 4, 4, 256, 65}, PrefillCase{513, 37, 8, 2, 64, 100},
                    PrefillCase{17, 5000, 8, 1, 128, 70}, PrefillCase{300, 5000, 32, 8, 128, 1000},
                    PrefillCase{1, 37, 32, 8, 128, 38}, PrefillCase{200, 0, 16, 2, 128, 4096},
                    PrefillCase{300, 40, 32, 32, 96, 100}));

// 16-bit caches: tiles across the diagonal, GQA ratios 1 to 7, head_dim 64 to 256, a window.
INSTANTIATE_TEST_SUITE_P(SixteenBitCache, CudaAttentionPrefillTest,
                         testing::Values(PrefillCase{130, 37, 8, 1, 80, 0, DType::kBF16},
                                         PrefillCase{513, 37, 8, 2, 128, 0, DType::kBF16},
                                         PrefillCase{65, 37, 14, 2, 64, 0, DType::kF16},
                                         PrefillCase{17, 37, 4, 1, 256, 0, DType::kBF16},
                                         PrefillCase{300, 40, 32, 32, 96, 100, DType::kF16},
                                         PrefillCase{300, 5000, 32, 8, 128, 1000, DType::kBF16}));

TEST(CudaAttentionPrefillPreconditionTest, RejectsUnsupportedShapes) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const auto launch = [](int64_t n_tokens, int64_t first_position,
                         const cpu::AttentionShape& shape) {
    return cuda::AttentionPrefill(nullptr, nullptr, DType::kF32, n_tokens, first_position, shape,
                                  nullptr, DType::kF32, nullptr);
  };
  EXPECT_EQ(launch(0, 0, {8, 8, 64, 1.0f}), cudaErrorInvalidValue);   // no tokens
  EXPECT_EQ(launch(4, -1, {8, 8, 64, 1.0f}), cudaErrorInvalidValue);  // negative position
  EXPECT_EQ(launch(4, 0, {8, 3, 64, 1.0f}), cudaErrorInvalidValue);   // 3 does not divide 8
  EXPECT_EQ(launch(4, 0, {8, 8, 66, 1.0f}), cudaErrorInvalidValue);   // head_dim % 4
  EXPECT_EQ(launch(4, 0, {8, 8, 512, 1.0f}), cudaErrorInvalidValue);  // head_dim > 256
  EXPECT_EQ(launch(4, 0, {8, 8, 64, 1.0f, -1}), cudaErrorInvalidValue);  // negative window
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
