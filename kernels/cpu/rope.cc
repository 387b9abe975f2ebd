// Rotary position embedding (Su et al. 2021): pairs of a head's dimensions are treated as 2-D
// points and turned by an angle proportional to the token's position, so that q.k depends on
// the distance between two tokens. Which dimensions form a pair depends on how the checkpoint
// laid out its q/k weights (RopeStyle).
#include <cmath>

#include "kernels/cpu/ops.h"

namespace tessera::cpu {

void Rope(float* x, const int32_t* positions, int64_t n_tokens, int n_heads, int head_dim,
          int rotary_dim, const float* inv_freq, RopeStyle style, float scale) {
  const int n_pairs = rotary_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* token = x + t * n_heads * head_dim;  // [n_heads, head_dim]
    for (int i = 0; i < n_pairs; ++i) {
      const float angle = static_cast<float>(positions[t]) * inv_freq[i];
      const float cos_angle = scale * std::cos(angle);
      const float sin_angle = scale * std::sin(angle);
      const int first = style == RopeStyle::kAdjacentPairs ? 2 * i : i;
      const int second = style == RopeStyle::kAdjacentPairs ? 2 * i + 1 : i + n_pairs;
      for (int h = 0; h < n_heads; ++h) {
        float* head = token + h * head_dim;  // [head_dim]
        const float a = head[first];
        const float b = head[second];
        head[first] = a * cos_angle - b * sin_angle;
        head[second] = a * sin_angle + b * cos_angle;
      }
    }
  }
}

}  // namespace tessera::cpu
