// What a load run does, as its flags give it (main.cc), and the checks it must pass before it
// starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bench/load/length_mix.h"

namespace tessera::load {

struct LoadOptions {
  std::string server = "localhost:50051";
  std::string model;
  int concurrency = 0;      // closed loop: this many streams; 0 when `rate` is set
  double rate = 0;          // open loop: Poisson arrivals, requests per second; 0: closed loop
  int max_outstanding = 0;  // open loop: at most this many requests in flight
  int64_t requests = 0;     // measured requests; 0 when `duration` is set
  std::optional<absl::Duration> duration;  // or: send new requests for this long
  int64_t warmup = 0;  // requests run before the measured ones and left out of the figures
  LengthMix prompt_tokens = LengthMix::Fixed(512);
  LengthMix output_tokens = LengthMix::Fixed(256);
  int32_t shared_prefix_tokens = 0;  // the same first tokens in every prompt
  uint64_t seed = 0;
  float temperature = 0;  // 0: greedy
  int connections = 1;    // HTTP/2 connections the requests are spread over
  std::optional<absl::Duration> request_timeout;
  std::string json_path;

  bool open_loop() const { return rate > 0; }
  // The requests in flight at most.
  int max_in_flight() const { return open_loop() ? max_outstanding : concurrency; }
};

// INVALID_ARGUMENT naming the flag when the options do not make a run.
absl::Status CheckOptions(const LoadOptions& options);

}  // namespace tessera::load
