// Rotary position embedding: which dimensions rotate, how they pair, and at what frequencies,
// including the context-extension schemes that rescale the frequencies (Llama 3's frequency
// scaling and Phi-3's LongRoPE both divide each frequency by a per-frequency factor).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu/ops.h"

namespace tessera {

struct RopeConfig {
  int rotary_dim = 0;  // leading dims of each head that rotate; even, <= head_dim
  float theta = 10000.0f;
  cpu::RopeStyle style = cpu::RopeStyle::kAdjacentPairs;
  // Divisors of the frequencies, [rotary_dim / 2]; empty for none. Llama 3 scaling, and
  // LongRoPE's short factors.
  std::vector<float> frequency_factors;
  // LongRoPE: the factors for a forward pass whose last position is at or past
  // `original_context` (as Hugging Face switches per call); empty for none. [rotary_dim / 2]
  std::vector<float> long_frequency_factors;
  int64_t original_context = 0;
  // Multiplies cos and sin (LongRoPE's attention factor); 1 for plain rotation.
  float attention_factor = 1.0f;
};

// Whether a pass over positions [start, start + n_tokens) rotates with LongRoPE's long factors:
// when it reaches past the original context (as transformers decides, per forward pass).
bool UsesLongFrequencies(const RopeConfig& config, int64_t start, int64_t n_tokens);

// inv_freq[i] = theta^(-2i / rotary_dim) / factors[i] for i in [0, rotary_dim / 2); `factors`
// empty means all ones.
std::vector<float> RopeInverseFrequencies(const RopeConfig& config,
                                          const std::vector<float>& factors);

// Llama 3's frequency scaling as per-frequency divisors: frequencies whose wavelength is shorter
// than original_context / high_frequency_factor stay, those longer than original_context /
// low_frequency_factor are divided by `factor`, and the band between blends the two smoothly.
struct Llama3RopeScaling {
  double factor = 1;
  double low_frequency_factor = 1;
  double high_frequency_factor = 4;
  double original_context = 8192;
};
std::vector<float> Llama3FrequencyFactors(const Llama3RopeScaling& scaling, float theta,
                                          int rotary_dim);

}  // namespace tessera
