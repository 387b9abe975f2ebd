// Rows of a weight matrix as fp32, for kernels that compute in fp32 whatever the file stored.
// Each thread uses its own reader: the converted row lives in the reader's scratch.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/tensor.h"

namespace tessera::cpu {

class WeightRowReader {
 public:
  explicit WeightRowReader(const Tensor& weight);

  // Row `row` of the weight as fp32: [weight.cols()]. Points into the weight itself when it is
  // already fp32, else into the scratch, and is then valid until the next call.
  const float* Row(int64_t row);

 private:
  Tensor weight_;
  std::vector<float> scratch_;  // [weight.cols()], left empty for fp32 weights
};

}  // namespace tessera::cpu
