// Causal multi-head attention over a KV cache, with grouped-query attention: several query heads
// share one key/value head. Each (token, head) pair is independent: scores against every visible
// cache position, a softmax, then the weighted sum of values.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/dot.h"
#include "kernels/cpu/ops.h"
#include "kernels/kv_blocks.h"

namespace tessera::cpu {

void Attention(const float* q, const float* k_cache, const float* v_cache,
               const int32_t* block_table, int64_t n_tokens, int64_t first_position,
               const AttentionShape& shape, float* out) {
  const int n_heads = shape.n_heads;
  const int head_dim = shape.head_dim;
  const int heads_per_kv_head = n_heads / shape.n_kv_heads;
  const int64_t kv_row = static_cast<int64_t>(shape.n_kv_heads) * head_dim;  // one cache position
#pragma omp parallel num_threads(ThreadCount())
  {
    std::vector<float> scores(first_position + n_tokens);  // [visible positions], per thread
#pragma omp for collapse(2) schedule(static)
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int h = 0; h < n_heads; ++h) {
        const int64_t position = first_position + t;
        // Causal: up to its own position; a sliding window also drops the oldest ones.
        const int64_t first_visible =
            shape.sliding_window > 0 ? std::max<int64_t>(0, position - shape.sliding_window + 1) : 0;
        const int64_t n_visible = position + 1 - first_visible;
        const int64_t kv_offset = static_cast<int64_t>(h / heads_per_kv_head) * head_dim;
        const float* q_head = q + (t * n_heads + h) * head_dim;  // [head_dim]
        float* out_head = out + (t * n_heads + h) * head_dim;    // [head_dim]

        float max_score = -INFINITY;
        for (int64_t p = 0; p < n_visible; ++p) {
          const int64_t row = KvRow(block_table, first_visible + p);
          scores[p] = shape.scale * Dot(q_head, k_cache + row * kv_row + kv_offset, head_dim);
          max_score = std::max(max_score, scores[p]);
        }
        // Subtracting the max keeps exp() in range; it cancels in the normalization.
        float score_sum = 0;
        for (int64_t p = 0; p < n_visible; ++p) {
          scores[p] = std::exp(scores[p] - max_score);
          score_sum += scores[p];
        }

        std::fill(out_head, out_head + head_dim, 0.0f);
        for (int64_t p = 0; p < n_visible; ++p) {
          const float* v_head =
              v_cache + KvRow(block_table, first_visible + p) * kv_row + kv_offset;  // [head_dim]
          const float probability = scores[p] / score_sum;
          for (int d = 0; d < head_dim; ++d) out_head[d] += probability * v_head[d];
        }
      }
    }
  }
}

}  // namespace tessera::cpu
