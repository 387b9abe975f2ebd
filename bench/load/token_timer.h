// When each token of one stream arrived, as time to first token and the gaps between tokens.
//
// A message may carry several tokens (the server merges what a slow reader has not taken yet):
// the gap since the previous message is spread evenly over its tokens. The tokens of the first
// message after the first token arrive with it, gaps of 0. Either way the gaps add up to the
// time from the first token to the last, and there is one fewer gap than tokens.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

namespace tessera::load {

using Clock = std::chrono::steady_clock;

double MillisecondsBetween(Clock::time_point from, Clock::time_point to);

class TokenTimer {
 public:
  // `sent`: when the request went out.
  explicit TokenTimer(Clock::time_point sent) : sent_(sent) {}

  // A message with `tokens` tokens arrived at `at`. Messages without tokens are ignored.
  void Arrived(int tokens, Clock::time_point at);

  // Milliseconds from sending the request to the first token; nullopt before it.
  std::optional<double> first_token_ms() const { return first_token_ms_; }
  const std::vector<double>& gaps_ms() const { return gaps_ms_; }
  int tokens() const { return tokens_; }

 private:
  Clock::time_point sent_;
  Clock::time_point last_arrival_;
  std::optional<double> first_token_ms_;
  std::vector<double> gaps_ms_;
  int tokens_ = 0;
};

}  // namespace tessera::load
