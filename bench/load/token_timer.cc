#include "bench/load/token_timer.h"

namespace tessera::load {

double MillisecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

void TokenTimer::Arrived(int tokens, Clock::time_point at) {
  if (tokens <= 0) return;
  if (!first_token_ms_.has_value()) {
    first_token_ms_ = MillisecondsBetween(sent_, at);
    gaps_ms_.insert(gaps_ms_.end(), tokens - 1, 0.0);
  } else {
    gaps_ms_.insert(gaps_ms_.end(), tokens, MillisecondsBetween(last_arrival_, at) / tokens);
  }
  last_arrival_ = at;
  tokens_ += tokens;
}

}  // namespace tessera::load
