#include "core/blocks/rope.h"

#include <cmath>

namespace tessera {

std::vector<float> RopeInverseFrequencies(const RopeConfig& config) {
  std::vector<float> inv_freq(config.rotary_dim / 2);
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    inv_freq[i] = static_cast<float>(
        std::pow(double{config.theta}, -2.0 * static_cast<double>(i) / config.rotary_dim));
  }
  return inv_freq;
}

}  // namespace tessera
