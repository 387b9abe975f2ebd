// Attention: hand-computed cases (one token returns its value, two tokens with known scores,
// the causal mask, the GQA head mapping, sliding windows of one and two positions), and random
// inputs, read from cache blocks in shuffled order, against a double-precision reference that
// scores every cache position, masks them with an explicitly built causal (and sliding-window)
// mask and normalizes with log-sum-exp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "tests/kernels/kernel_test_util.h"

namespace tessera::cpu {
namespace {

// The hand-computed cases' caches hold fewer than kKvBlockTokens positions: one block, block 0.
constexpr int32_t kOneBlock[] = {0};

TEST(AttentionTest, SingleTokenReturnsItsValue) {
  const AttentionShape shape{.n_heads = 1, .n_kv_heads = 1, .head_dim = 3, .scale = 0.577f};
  const std::vector<float> q = {0.3f, -2, 5};
  const std::vector<float> k = {1, 4, -1};
  const std::vector<float> v = {7, -0.5f, 2};
  std::vector<float> out(3);
  Attention(q.data(), k.data(), v.data(), kOneBlock, 1, 0, shape, out.data());
  EXPECT_EQ(out, v);  // the only visible position has probability exactly 1
}

// Two tokens, head_dim 2, keys e0 and e1. Token 0 sees only itself; token 1, with q = (2 ln 3, 0)
// and scale 0.5, has scores (ln 3, 0) -> probabilities (3/4, 1/4).
TEST(AttentionTest, TwoTokensWithKnownScores) {
  const AttentionShape shape{.n_heads = 1, .n_kv_heads = 1, .head_dim = 2, .scale = 0.5f};
  const float two_ln3 = 2 * std::log(3.0f);
  const std::vector<float> q = {0, 4,         // token 0: would favour position 1 if it could see it
                                two_ln3, 0};  // token 1
  const std::vector<float> k = {1, 0,  //
                                0, 1};
  const std::vector<float> v = {1, 2,  //
                                5, -2};
  std::vector<float> out(4);
  Attention(q.data(), k.data(), v.data(), kOneBlock, 2, 0, shape, out.data());
  EXPECT_EQ(out[0], 1.0f);  // causal: token 0 returns v0 exactly
  EXPECT_EQ(out[1], 2.0f);
  // 3/4 * (1, 2) + 1/4 * (5, -2) = (2, 1).
  EXPECT_NEAR(out[2], 2.0f, 1e-6f);
  EXPECT_NEAR(out[3], 1.0f, 1e-6f);
}

// Decode step: one new query at position 2 over a cache of three equal keys: uniform weights.
TEST(AttentionTest, DecodeStepAveragesEqualScores) {
  const AttentionShape shape{.n_heads = 1, .n_kv_heads = 1, .head_dim = 2, .scale = 1};
  const std::vector<float> q = {0.7f, -0.2f};
  const std::vector<float> k = {1, 1, 1, 1, 1, 1, 9, 9};  // position 3 lies past the query
  const std::vector<float> v = {3, 0, 0, 3, 6, 6, 100, 100};
  std::vector<float> out(2);
  Attention(q.data(), k.data(), v.data(), kOneBlock, 1, /*first_position=*/2, shape, out.data());
  EXPECT_NEAR(out[0], 3.0f, 1e-6f);
  EXPECT_NEAR(out[1], 3.0f, 1e-6f);
}

// GQA with 4 query heads over 2 kv heads: heads 0, 1 read kv head 0 and heads 2, 3 kv head 1.
TEST(AttentionTest, GroupedQueryHeadsShareKvHeads) {
  const AttentionShape shape{.n_heads = 4, .n_kv_heads = 2, .head_dim = 2, .scale = 1};
  const std::vector<float> q = test::RandomFloats(4 * 2, 1);
  const std::vector<float> k = {1, 2, 3, 4};  // [1 position, 2 kv heads, 2]
  const std::vector<float> v = {10, 11, 20, 21};
  std::vector<float> out(4 * 2);
  Attention(q.data(), k.data(), v.data(), kOneBlock, 1, 0, shape, out.data());
  EXPECT_EQ(out, (std::vector<float>{10, 11, 10, 11, 20, 21, 20, 21}));
}

// A window of one position: every query sees only itself and returns its own value exactly,
// however strongly it would prefer an earlier key.
TEST(AttentionTest, WindowOfOneReturnsOwnValue) {
  const AttentionShape shape{
      .n_heads = 1, .n_kv_heads = 1, .head_dim = 2, .scale = 1, .sliding_window = 1};
  const std::vector<float> q = {50, 0,  // position 2
                                50, 0};  // position 3
  const std::vector<float> k = {1, 0, 1, 0, 0, 1, 0, 1};  // [4 positions, 1 kv head, 2]
  const std::vector<float> v = {9, 9, 9, 9, 3, -1, 4, 2};
  std::vector<float> out(4);
  Attention(q.data(), k.data(), v.data(), kOneBlock, 2, /*first_position=*/2, shape, out.data());
  EXPECT_EQ(out, (std::vector<float>{3, -1, 4, 2}));
}

// Window 2 at position 3: positions 2 and 3 are visible, 0 and 1 are not. With keys e0 at
// position 2 and e1 at position 3, q = (ln 3, 0) scores (ln 3, 0) -> probabilities (3/4, 1/4).
// Positions 0 and 1 hold keys that would win every score and values far away.
TEST(AttentionTest, WindowOfTwoDropsOlderPositions) {
  const AttentionShape shape{
      .n_heads = 1, .n_kv_heads = 1, .head_dim = 2, .scale = 1, .sliding_window = 2};
  const std::vector<float> q = {std::log(3.0f), 0};
  const std::vector<float> k = {9, 9, 9, 9,  // positions 0, 1: outside the window
                                1, 0, 0, 1};
  const std::vector<float> v = {-100, -100, 100, 100,  //
                                1, 2, 5, -2};
  std::vector<float> out(2);
  Attention(q.data(), k.data(), v.data(), kOneBlock, 1, /*first_position=*/3, shape, out.data());
  // 3/4 * (1, 2) + 1/4 * (5, -2) = (2, 1).
  EXPECT_NEAR(out[0], 2.0f, 1e-6f);
  EXPECT_NEAR(out[1], 1.0f, 1e-6f);
}

struct AttentionCase {
  int n_heads, n_kv_heads, head_dim;
  int64_t n_tokens, first_position;
  int64_t sliding_window = 0;
};

// mask[t][p]: whether query t (at position first_position + t) may read cache position p. Built
// from the definition: every position up to the query's own, then, with a window, the
// first `first_position + t + 1 - sliding_window` of those blanked out again.
std::vector<std::vector<bool>> VisibilityMask(const AttentionCase& c) {
  const int64_t n_positions = c.first_position + c.n_tokens;
  std::vector<std::vector<bool>> mask(c.n_tokens, std::vector<bool>(n_positions, false));
  for (int64_t t = 0; t < c.n_tokens; ++t) {
    const int64_t n_seen = c.first_position + t + 1;
    for (int64_t p = 0; p < n_seen; ++p) mask[t][p] = true;
    if (c.sliding_window == 0) continue;
    for (int64_t p = 0; p < n_seen - c.sliding_window; ++p) mask[t][p] = false;
  }
  return mask;
}

// Scores every cache position, sets those the mask hides to -inf, and normalizes with
// log-sum-exp; query head h reads kv head h * n_kv_heads / n_heads.
std::vector<double> ReferenceAttention(const std::vector<float>& q, const std::vector<float>& k,
                                       const std::vector<float>& v, const AttentionCase& c,
                                       double scale) {
  const int64_t n_positions = c.first_position + c.n_tokens;
  const std::vector<std::vector<bool>> mask = VisibilityMask(c);
  std::vector<double> out(c.n_tokens * c.n_heads * c.head_dim, 0.0);
  std::vector<double> logits(n_positions);
  for (int h = 0; h < c.n_heads; ++h) {
    const int kv_head = h * c.n_kv_heads / c.n_heads;
    for (int64_t t = 0; t < c.n_tokens; ++t) {
      const float* q_head = &q[(t * c.n_heads + h) * c.head_dim];
      for (int64_t p = 0; p < n_positions; ++p) {
        const float* k_head = &k[(p * c.n_kv_heads + kv_head) * c.head_dim];
        double dot = 0;
        for (int d = 0; d < c.head_dim; ++d) dot += static_cast<double>(q_head[d]) * k_head[d];
        logits[p] = mask[t][p] ? scale * dot : -std::numeric_limits<double>::infinity();
      }
      const double max_logit = *std::max_element(logits.begin(), logits.end());
      double sum = 0;
      for (double logit : logits) sum += std::exp(logit - max_logit);
      const double log_sum_exp = max_logit + std::log(sum);
      double* out_head = &out[(t * c.n_heads + h) * c.head_dim];
      for (int64_t p = 0; p < n_positions; ++p) {
        const double probability = std::exp(logits[p] - log_sum_exp);
        for (int d = 0; d < c.head_dim; ++d) {
          out_head[d] += probability * v[(p * c.n_kv_heads + kv_head) * c.head_dim + d];
        }
      }
    }
  }
  return out;
}

// Random q, k and v for the case, compared with ReferenceAttention at two scales.
void ExpectMatchesReference(const AttentionCase& c, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "heads=" << c.n_heads << " kv_heads=" << c.n_kv_heads
                                  << " head_dim=" << c.head_dim << " tokens=" << c.n_tokens
                                  << " first_position=" << c.first_position
                                  << " sliding_window=" << c.sliding_window);
  const int64_t n_positions = c.first_position + c.n_tokens;
  const std::vector<float> q = test::RandomFloats(c.n_tokens * c.n_heads * c.head_dim, seed);
  const std::vector<float> k =
      test::RandomFloats(n_positions * c.n_kv_heads * c.head_dim, seed + 1);
  const std::vector<float> v =
      test::RandomFloats(n_positions * c.n_kv_heads * c.head_dim, seed + 2);
  // The kernel reads them from blocks in shuffled order, the reference in position order.
  const int64_t row_values = int64_t{c.n_kv_heads} * c.head_dim;
  const std::vector<int32_t> block_table = test::ShuffledBlockTable(n_positions, seed + 3);
  const std::vector<float> k_blocks = test::ToBlocks(k, row_values, block_table);
  const std::vector<float> v_blocks = test::ToBlocks(v, row_values, block_table);
  // A large scale gives peaked distributions, where a missing max subtraction or a wrong mask
  // shows up; 1/sqrt(head_dim) gives the usual flat ones.
  for (float scale : {1.0f / std::sqrt(static_cast<float>(c.head_dim)), 30.0f}) {
    const AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim, scale, c.sliding_window};
    const std::vector<double> expected = ReferenceAttention(q, k, v, c, scale);
    std::vector<float> out(q.size());
    Attention(q.data(), k_blocks.data(), v_blocks.data(), block_table.data(), c.n_tokens,
              c.first_position, shape, out.data());
    // Outputs are convex combinations of values in [-1, 1). With scale 30 the logits reach
    // ~|30 * head_dim| and the fp32 rounding of a logit (relative 6e-8) moves a probability by
    // up to that much times the logit, so the bound grows with scale * head_dim.
    const double tolerance = 2e-6 * (1 + scale * c.head_dim);
    for (size_t j = 0; j < out.size(); ++j) {
      ASSERT_NEAR(out[j], expected[j], tolerance) << "at " << j << " scale " << scale;
    }
  }
}

TEST(AttentionTest, MatchesDoublePrecisionReference) {
  const AttentionCase cases[] = {
      {1, 1, 1, 1, 0},   {4, 4, 7, 1, 0},  {4, 4, 7, 5, 0},   {4, 2, 5, 1, 9},
      {4, 2, 5, 6, 9},   {8, 2, 16, 3, 0}, {8, 2, 16, 1, 40}, {6, 3, 33, 17, 4},
      {32, 8, 64, 9, 100},
  };
  uint32_t seed = 30;
  for (const AttentionCase& c : cases) {
    ExpectMatchesReference(c, seed);
    seed += 3;
  }
}

TEST(AttentionTest, SlidingWindowMatchesDoublePrecisionReference) {
  // {n_heads, n_kv_heads, head_dim, n_tokens, first_position, sliding_window}
  const AttentionCase cases[] = {
      // Window 1: each query sees only itself, from an empty cache and after 9 positions (GQA).
      {4, 4, 7, 5, 0, 1},
      {4, 2, 5, 6, 9, 1},
      // Decode steps: the window cuts an 8-position tail out of 41, and a 2-position one.
      {4, 2, 5, 1, 40, 8},
      {8, 2, 16, 1, 40, 2},
      // Windows as long as the context and longer: nothing is cut.
      {4, 1, 8, 5, 3, 8},
      {8, 2, 16, 3, 0, 100},
      {6, 3, 33, 17, 4, 1000},
      // Prefill blocks that cross the window boundary: queries at positions 4..8 (and 0..4)
      // still see position 0, later ones lose the oldest positions one by one.
      {6, 3, 33, 17, 4, 9},
      {8, 2, 16, 12, 0, 5},
      // Every query of the block has lost some positions, each a different set.
      {8, 2, 16, 20, 10, 7},
      {32, 8, 64, 9, 100, 50},
  };
  uint32_t seed = 60;
  for (const AttentionCase& c : cases) {
    ExpectMatchesReference(c, seed);
    seed += 3;
  }
}

}  // namespace
}  // namespace tessera::cpu
