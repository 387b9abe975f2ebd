// One phase of a load run (the warm-up, then the measured part): requests sent either as fast as
// a fixed number of streams allows (closed loop: each stream sends its next request when the
// previous one ends) or at Poisson arrival times (open loop), with a cap on the requests in
// flight either way.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "bench/load/request_record.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::load {

struct PhaseOptions {
  int64_t requests = 0;                    // 0: no limit; `duration` ends the phase
  std::optional<absl::Duration> duration;  // no new request after this long; nullopt: no limit
  int max_in_flight = 1;  // the streams of a closed loop; the cap on outstanding requests of an
                          // open one
  double rate = 0;        // requests per second of an open loop; 0: a closed loop
  uint64_t arrival_seed = 0;
  std::optional<absl::Duration> request_timeout;  // each stream's deadline; nullopt: none
};

struct PhaseResult {
  std::vector<RequestRecord> records;  // in the order the requests ended
  double seconds = 0;                  // from the phase's start to the end of its last request
  // Open loop: arrivals that found max_in_flight requests outstanding and waited for one to end,
  // so were sent later than scheduled.
  int64_t held_by_cap = 0;
};

// Runs a phase; `next_request` makes each request as it is sent, and request i goes to
// stubs[i % stubs.size()]. Returns once every request sent has ended.
PhaseResult RunPhase(const PhaseOptions& options,
                     const std::vector<inference::v1::InferenceService::Stub*>& stubs,
                     const std::function<inference::v1::GenerateRequest()>& next_request);

}  // namespace tessera::load
