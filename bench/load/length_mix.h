// A mix of lengths (of prompts or of outputs) that requests draw from: one fixed length, or
// several, each with a weight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::load {

struct WeightedLength {
  int32_t tokens = 0;
  double weight = 0;  // relative; the weights need not add up to 1
};

class LengthMix {
 public:
  // "512" (every request), or "LENGTH:WEIGHT,..." such as "128:3,512:1" (three in four requests
  // get 128). A length without ":WEIGHT" weighs 1. Lengths are at least 1, weights positive.
  static absl::StatusOr<LengthMix> Parse(absl::string_view text);
  // Every request gets `tokens` (at least 1).
  static LengthMix Fixed(int32_t tokens) { return LengthMix({{.tokens = tokens, .weight = 1}}); }

  // The length whose share of the cumulative weights holds `u`, a uniform draw in [0, 1).
  int32_t Pick(double u) const;

  int32_t min() const;
  int32_t max() const;
  // The expected length: the weighted mean.
  double mean() const;
  const std::vector<WeightedLength>& entries() const { return entries_; }
  // As Parse reads it back, e.g. "128:3,512:1", or "512" for a single length.
  std::string ToString() const;

 private:
  explicit LengthMix(std::vector<WeightedLength> entries);

  std::vector<WeightedLength> entries_;
  std::vector<double> cumulative_;  // the running sum of the weights, divided by their total
};

}  // namespace tessera::load
