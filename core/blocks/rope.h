// Rotary position embedding: which dimensions rotate, how they pair, and at what frequencies.
#pragma once

#include <vector>

#include "kernels/cpu/ops.h"

namespace tessera {

struct RopeConfig {
  int rotary_dim = 0;  // leading dims of each head that rotate; even, <= head_dim
  float theta = 10000.0f;
  cpu::RopeStyle style = cpu::RopeStyle::kAdjacentPairs;
};

// inv_freq[i] = theta^(-2i / rotary_dim) for i in [0, rotary_dim / 2).
std::vector<float> RopeInverseFrequencies(const RopeConfig& config);

}  // namespace tessera
