// The CUDA split-KV decode attention against the CPU backend's attention for one new token,
// with and without a sliding window, on paged caches whose blocks lie in shuffled order in pools
// with unused, NaN-filled blocks.
#if TESSERA_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <utility>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/kv_blocks.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera {
namespace {

// fp32 q and arithmetic in both backends, the CPU's on the cache values the GPU reads (rounded to
// the cache's type first); summation orders and expf differ.
constexpr double kTolerance = 1e-5;

struct DecodeCase {
  int n_heads;
  int n_kv_heads;
  int head_dim;
  int64_t kv_len;
  int64_t sliding_window = 0;
  DType cache_dtype = DType::kF32;
};

void PrintTo(const DecodeCase& c, std::ostream* os) {
  *os << c.n_heads << "q/" << c.n_kv_heads << "kv heads, head_dim " << c.head_dim << ", kv_len "
      << c.kv_len << ", window " << c.sliding_window << ", " << DTypeName(c.cache_dtype)
      << " cache";
}

class CudaAttentionDecodeTest : public testing::TestWithParam<DecodeCase> {};

TEST_P(CudaAttentionDecodeTest, MatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const DecodeCase c = GetParam();
  const cpu::AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim,
                                  1.0f / std::sqrt(static_cast<float>(c.head_dim)),
                                  c.sliding_window};
  const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
  const std::vector<float> q = test::RandomFloats(c.n_heads * c.head_dim, 16);
  std::vector<float> keys = test::RandomFloats(c.kv_len * kv_dim, 17);
  for (float& k : keys) k *= 4;  // peaked softmax: chunks with very different maxima
  keys = test::RoundedTo(std::move(keys), c.cache_dtype);
  std::vector<float> values =
      test::RoundedTo(test::RandomFloats(c.kv_len * kv_dim, 18), c.cache_dtype);
  // Positions before the window hold NaN: a kernel that reads them, even to mask them, fails.
  if (c.sliding_window > 0 && c.kv_len > c.sliding_window) {
    const int64_t hidden = (c.kv_len - c.sliding_window) * kv_dim;
    std::fill(keys.begin(), keys.begin() + hidden, NAN);
    std::fill(values.begin(), values.begin() + hidden, NAN);
  }
  const std::vector<int32_t> block_table = test::ShuffledBlockTable(c.kv_len, 19);
  const std::vector<float> k_cache = test::ToBlocks(keys, kv_dim, block_table);
  const std::vector<float> v_cache = test::ToBlocks(values, kv_dim, block_table);
  std::vector<float> expected(c.n_heads * c.head_dim);
  cpu::Attention(q.data(), k_cache.data(), v_cache.data(), block_table.data(), 1, c.kv_len - 1,
                 shape, expected.data());

  auto q_device = test::ToDevice(q);
  test::DeviceValues k_device(k_cache, c.cache_dtype);
  test::DeviceValues v_device(v_cache, c.cache_dtype);
  auto table_device = test::ToDevice(block_table);
  auto view = test::ToDevice(std::vector<cuda::KvCacheView>{
      {k_device.data(), v_device.data(), table_device.data(), c.kv_len}});
  // One launch sized for exactly this context, one sized for a far longer one (as a captured
  // decode step is): the blocks past the context's chunks must leave the result alone. (Up to
  // 256 visible positions the first takes the one-chunk path, which writes the result itself.)
  for (const int64_t max_kv_len : {c.kv_len, 4 * c.kv_len + 1000}) {
    cuda::DeviceBuffer<char> workspace;
    ASSERT_EQ(workspace.Allocate(cuda::AttentionDecodeWorkspaceBytes(shape, max_kv_len)),
              cudaSuccess);
    auto out = test::PoisonedOutput(c.n_heads * c.head_dim);
    ASSERT_EQ(cuda::AttentionDecode(q_device.data(), view.data(), c.cache_dtype, max_kv_len, shape,
                                    workspace.data(), workspace.bytes(), out.data(), nullptr),
              cudaSuccess);
    const std::vector<float> got = test::ToHost(out);
    EXPECT_LT(test::RelativeError(got, expected), kTolerance)
        << "launched for " << max_kv_len << " positions";
    // A bf16 output (the o projection's operand in a bf16 model) is the fp32 one rounded.
    test::DeviceValues out_bf16(std::vector<float>(c.n_heads * c.head_dim, NAN), DType::kBF16);
    ASSERT_EQ(cuda::AttentionDecodeBatch(q_device.data(), view.data(), 1, 1, c.cache_dtype,
                                         max_kv_len, shape, workspace.data(), workspace.bytes(),
                                         out_bf16.data(), DType::kBF16, nullptr),
              cudaSuccess);
    EXPECT_EQ(out_bf16.ToHostFloats(), test::RoundedTo(got, DType::kBF16))
        << "launched for " << max_kv_len << " positions";
  }
}

// GQA ratios 1, 4 and 8; head_dim 64, 128, 256 and the non-power-of-two 80; context lengths of
// one position, exactly one chunk, and not a multiple of the chunk; a context long enough that
// chunks span several sweeps of the block's warps; a short one of eight kv heads, which one
// chunk a kv head covers, and of four kv heads (32 and 33 positions), which a block per query
// head covers, as it does qwen2.5-0.5b's 14 query heads over 2 kv heads at context 128 (below).
INSTANTIATE_TEST_SUITE_P(Shapes, CudaAttentionDecodeTest,
                         testing::Values(DecodeCase{8, 8, 64, 1},
                                         DecodeCase{4, 4, 64, cuda::kKvChunk},
                                         DecodeCase{32, 8, 128, 300},
                                         DecodeCase{32, 4, 128, cuda::kKvChunk + 1},
                                         DecodeCase{16, 2, 80, 1000}, DecodeCase{8, 1, 256, 257},
                                         DecodeCase{6, 2, 128, 2051}, DecodeCase{32, 8, 128, 5000},
                                         DecodeCase{32, 8, 128, 200}));

// Windows of one position; not a multiple of the chunk (kKvChunk + 1, 100, 250, 4099: the last
// spans many chunks); as long as the context and longer; a long context with a short window;
// GQA ratios 1, 3, 4, 8.
INSTANTIATE_TEST_SUITE_P(
    SlidingWindow, CudaAttentionDecodeTest,
    testing::Values(DecodeCase{8, 8, 64, 1, 1}, DecodeCase{32, 8, 128, 300, 1},
                    DecodeCase{16, 2, 80, 1000, cuda::kKvChunk + 1},
                    DecodeCase{32, 4, 128, 5000, 100}, DecodeCase{6, 2, 128, 20000, 4099},
                    DecodeCase{32, 8, 128, 2051, 2051}, DecodeCase{8, 1, 256, 257, 4096},
                    DecodeCase{12, 4, 64, 777, 250}, DecodeCase{32, 8, 128, 1000, 256}));

// 16-bit caches, where a position takes 8 (head_dim 64), 16 (80, 128) or 32 (256) lanes: GQA
// ratios 1 to 8 (7 rounded up), one position, a partial last sweep, several sweeps, a window.
// Groups of 4 to 8 with head_dim 64 or 128 run on tensor cores, in one chunk or several: a
// chunk's last tile partly filled, warps with no tile, several tiles a warp, a window's first
// position inside a tile.
INSTANTIATE_TEST_SUITE_P(SixteenBitCache, CudaAttentionDecodeTest,
                         testing::Values(DecodeCase{16, 4, 64, 3000, 1000, DType::kF16},
                                         DecodeCase{32, 4, 128, 2051, 0, DType::kBF16},
                                         DecodeCase{8, 8, 64, 1, 0, DType::kBF16},
                                         DecodeCase{14, 2, 64, 300, 0, DType::kBF16},
                                         DecodeCase{14, 2, 64, 128, 0, DType::kBF16},
                                         DecodeCase{32, 8, 128, 5000, 0, DType::kBF16},
                                         DecodeCase{32, 4, 128, cuda::kKvChunk + 1, 0, DType::kF16},
                                         DecodeCase{16, 2, 80, 1000, 0, DType::kBF16},
                                         DecodeCase{8, 1, 256, 257, 0, DType::kF16},
                                         DecodeCase{6, 2, 128, 20000, 4099, DType::kBF16},
                                         DecodeCase{12, 4, 64, 777, 250, DType::kF16},
                                         DecodeCase{32, 8, 128, 200, 0, DType::kBF16}));

// Sequences of very different lengths in one launch (AttentionDecodeBatch), each reading its own
// blocks of one shared pool, as a layer's sequences do, through views laid out per layer
// (stride 3), against the CPU's attention for each alone.
TEST(CudaAttentionDecodeBatchTest, EachSequenceMatchesCpu) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  for (const DType cache_dtype : {DType::kF32, DType::kBF16}) {
    for (const cpu::AttentionShape& shape :
         {cpu::AttentionShape{32, 8, 128, 1.0f / std::sqrt(128.0f), 0},
          cpu::AttentionShape{14, 2, 64, 0.125f, 100}}) {
      SCOPED_TRACE(testing::Message() << shape.n_heads << " heads, window " << shape.sliding_window
                                      << ", " << DTypeName(cache_dtype) << " cache");
      const std::vector<int64_t> lengths = {1, 700, 33, 5000, 129};
      constexpr int64_t kStride = 3;
      const int64_t n = static_cast<int64_t>(lengths.size());
      const int64_t q_dim = int64_t{shape.n_heads} * shape.head_dim;
      const int64_t kv_dim = int64_t{shape.n_kv_heads} * shape.head_dim;
      const std::vector<float> q = test::RandomFloats(n * q_dim, 30);
      // Sequence s owns the entries [first_block[s], first_block[s + 1]) of one shuffled table
      // over the pool; the positions past its length in its last block are NaN.
      std::vector<int64_t> first_block = {0};
      for (const int64_t length : lengths) {
        first_block.push_back(first_block.back() + KvBlocksFor(length));
      }
      const int64_t n_rows = first_block.back() * kKvBlockTokens;
      std::vector<float> keys(n_rows * kv_dim, NAN);
      std::vector<float> values(n_rows * kv_dim, NAN);
      for (int64_t s = 0; s < n; ++s) {
        const int64_t first_value = first_block[s] * kKvBlockTokens * kv_dim;
        const std::vector<float> k =
            test::RoundedTo(test::RandomFloats(lengths[s] * kv_dim, 31 + s), cache_dtype);
        const std::vector<float> v =
            test::RoundedTo(test::RandomFloats(lengths[s] * kv_dim, 41 + s), cache_dtype);
        std::copy(k.begin(), k.end(), keys.begin() + first_value);
        std::copy(v.begin(), v.end(), values.begin() + first_value);
      }
      const std::vector<int32_t> block_table = test::ShuffledBlockTable(n_rows, 50);
      const std::vector<float> k_cache = test::ToBlocks(keys, kv_dim, block_table);
      const std::vector<float> v_cache = test::ToBlocks(values, kv_dim, block_table);
      std::vector<float> expected(n * q_dim);
      for (int64_t s = 0; s < n; ++s) {
        cpu::Attention(q.data() + s * q_dim, k_cache.data(), v_cache.data(),
                       block_table.data() + first_block[s], 1, lengths[s] - 1, shape,
                       expected.data() + s * q_dim);
      }
      test::DeviceValues k_device(k_cache, cache_dtype);
      test::DeviceValues v_device(v_cache, cache_dtype);
      auto table_device = test::ToDevice(block_table);
      std::vector<cuda::KvCacheView> views(n * kStride);
      for (int64_t s = 0; s < n; ++s) {
        views[s * kStride] = {k_device.data(), v_device.data(),
                              table_device.data() + first_block[s], lengths[s]};
      }
      auto q_device = test::ToDevice(q);
      auto views_device = test::ToDevice(views);
      const int64_t max_kv_len = *std::max_element(lengths.begin(), lengths.end());
      cuda::DeviceBuffer<char> workspace;
      ASSERT_EQ(workspace.Allocate(cuda::AttentionDecodeWorkspaceBytes(shape, max_kv_len, n)),
                cudaSuccess);
      // Poisoned outputs: an element the kernels fail to write stays NaN.
      const auto run = [&](DType out_dtype) {
        test::DeviceValues out(std::vector<float>(n * q_dim, NAN), out_dtype);
        EXPECT_EQ(cuda::AttentionDecodeBatch(q_device.data(), views_device.data(), kStride, n,
                                             cache_dtype, max_kv_len, shape, workspace.data(),
                                             workspace.bytes(), out.data(), out_dtype, nullptr),
                  cudaSuccess);
        return out.ToHostFloats();
      };
      const std::vector<float> got = run(DType::kF32);
      for (int64_t s = 0; s < n; ++s) {
        EXPECT_LT(test::RelativeError(
                      std::vector<float>(got.begin() + s * q_dim, got.begin() + (s + 1) * q_dim),
                      std::vector<float>(expected.begin() + s * q_dim,
                                         expected.begin() + (s + 1) * q_dim)),
                  kTolerance)
            << "sequence " << s << " of " << lengths[s] << " positions";
      }
      // A bf16 output (the o projection's operand in a bf16 model) is the fp32 one rounded.
      EXPECT_EQ(run(DType::kBF16), test::RoundedTo(got, DType::kBF16));
    }
  }
}

TEST(CudaAttentionDecodePreconditionTest, RejectsUnsupportedShapes) {
  TESSERA_SKIP_WITHOUT_CUDA_DEVICE();
  const auto launch = [](const cpu::AttentionShape& shape, size_t workspace_bytes,
                         DType cache_dtype = DType::kF32) {
    return cuda::AttentionDecode(nullptr, nullptr, cache_dtype, 10, shape, nullptr, workspace_bytes,
                                 nullptr, nullptr);
  };
  EXPECT_EQ(launch({16, 1, 64, 1.0f}, 1 << 20), cudaErrorInvalidValue);  // group 16
  EXPECT_EQ(launch({8, 8, 66, 1.0f}, 1 << 20), cudaErrorInvalidValue);   // head_dim % 4
  EXPECT_EQ(launch({8, 8, 68, 1.0f}, 1 << 20, DType::kBF16), cudaErrorInvalidValue);  // % 8
  EXPECT_EQ(launch({8, 8, 512, 1.0f}, 1 << 20), cudaErrorInvalidValue);  // head_dim > 256
  EXPECT_EQ(launch({8, 8, 64, 1.0f}, 0), cudaErrorInvalidValue);         // no workspace
  EXPECT_EQ(launch({8, 8, 64, 1.0f, -1}, 1 << 20), cudaErrorInvalidValue);  // negative window
}

}  // namespace
}  // namespace tessera

#endif  // TESSERA_HAVE_CUDA
