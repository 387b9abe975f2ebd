// When an open-loop run sends each request: a Poisson process, so the gaps between arrivals are
// independent and exponentially distributed with mean 1 / rate. The schedule is fixed by the
// seed, not by how fast the server answers.
#pragma once

#include <cstdint>
#include <random>

namespace tessera::load {

// The gap that the inverse of the exponential distribution's CDF gives a uniform draw u in
// [0, 1): -ln(1 - u) / rate seconds.
double ExponentialGap(double u, double rate);

class PoissonArrivals {
 public:
  PoissonArrivals(double rate, uint64_t seed) : rate_(rate), rng_(seed) {}

  // Seconds from the start of the run to the next arrival; each call moves one arrival on.
  double Next();

 private:
  double rate_;  // requests per second
  std::mt19937_64 rng_;
  double seconds_ = 0;
};

}  // namespace tessera::load
