// The percentile rule every benchmark here reports with, so that tessera-bench and tessera-load
// figures compare.
#pragma once

#include <vector>

namespace tessera::bench {

// The p-th percentile (p in [0, 100]) by nearest rank: the smallest value with at least p% of
// the values at or below it. 0 for no values.
double Percentile(std::vector<double> values, double p);

}  // namespace tessera::bench
