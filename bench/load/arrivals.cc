#include "bench/load/arrivals.h"

#include <cmath>

namespace tessera::load {

double ExponentialGap(double u, double rate) { return -std::log1p(-u) / rate; }

double PoissonArrivals::Next() {
  seconds_ += ExponentialGap(std::uniform_real_distribution<double>(0, 1)(rng_), rate_);
  return seconds_;
}

}  // namespace tessera::load
