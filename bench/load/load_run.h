// A load run: requests sent either as fast as a fixed number of streams allows (closed loop: each
// stream sends its next request when the previous one ends) or at Poisson arrival times (open
// loop), with a cap on the requests in flight either way. The first `warmup` requests are sent the
// same way and left out of the figures; the measured ones follow without a pause, so they start
// under the load the warm-up built up rather than on an idle server (whose streams would all start
// together).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "bench/load/request_record.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::load {

struct LoadPlan {
  int64_t warmup = 0;    // requests sent before the measured ones
  int64_t requests = 0;  // measured; 0: no limit, `duration` ends the run
  // No new request this long after the first measured one; nullopt: no limit.
  std::optional<absl::Duration> duration;
  int max_in_flight = 1;  // the streams of a closed loop; the cap on outstanding requests of an
                          // open one
  double rate = 0;        // requests per second of an open loop; 0: a closed loop
  uint64_t arrival_seed = 0;
  std::optional<absl::Duration> request_timeout;  // each stream's deadline; nullopt: none
};

struct LoadResult {
  std::vector<RequestRecord> records;         // the measured requests', in the order they ended
  std::vector<RequestRecord> warmup_records;  // the warm-up requests'
  // From sending the first measured request to the end of the last.
  double seconds = 0;
  // Open loop: measured arrivals that found max_in_flight requests outstanding and waited for
  // one to end, so were sent later than scheduled.
  int64_t held_by_cap = 0;
};

// Runs the load; `next_request` makes each request as it is sent, and request i goes to
// stubs[i % stubs.size()]; `at_measured_start` runs just before the first measured request is
// sent. Returns once every request sent has ended.
LoadResult RunLoad(const LoadPlan& plan,
                   const std::vector<inference::v1::InferenceService::Stub*>& stubs,
                   const std::function<inference::v1::GenerateRequest()>& next_request,
                   const std::function<void()>& at_measured_start);

}  // namespace tessera::load
