#include "core/blocks/rope.h"

#include <cmath>
#include <numbers>

namespace tessera {
namespace {

double BaseInverseFrequency(float theta, int rotary_dim, size_t i) {
  return std::pow(double{theta}, -2.0 * static_cast<double>(i) / rotary_dim);
}

}  // namespace

bool UsesLongFrequencies(const RopeConfig& config, int64_t start, int64_t n_tokens) {
  return !config.long_frequency_factors.empty() && start + n_tokens > config.original_context;
}

std::vector<float> RopeInverseFrequencies(const RopeConfig& config,
                                          const std::vector<float>& factors) {
  std::vector<float> inv_freq(config.rotary_dim / 2);
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const double factor = factors.empty() ? 1.0 : double{factors[i]};
    inv_freq[i] =
        static_cast<float>(BaseInverseFrequency(config.theta, config.rotary_dim, i) / factor);
  }
  return inv_freq;
}

std::vector<float> Llama3FrequencyFactors(const Llama3RopeScaling& scaling, float theta,
                                          int rotary_dim) {
  const double low_frequency_wavelength = scaling.original_context / scaling.low_frequency_factor;
  const double high_frequency_wavelength =
      scaling.original_context / scaling.high_frequency_factor;
  std::vector<float> factors(rotary_dim / 2);
  for (size_t i = 0; i < factors.size(); ++i) {
    const double wavelength = 2 * std::numbers::pi / BaseInverseFrequency(theta, rotary_dim, i);
    double factor;
    if (wavelength < high_frequency_wavelength) {
      factor = 1;
    } else if (wavelength > low_frequency_wavelength) {
      factor = scaling.factor;
    } else {
      // Blend 1/factor and 1 in the frequency domain, by where the wavelength falls in the band.
      const double smooth = (scaling.original_context / wavelength - scaling.low_frequency_factor) /
                            (scaling.high_frequency_factor - scaling.low_frequency_factor);
      factor = 1 / ((1 - smooth) / scaling.factor + smooth);
    }
    factors[i] = static_cast<float>(factor);
  }
  return factors;
}

}  // namespace tessera
