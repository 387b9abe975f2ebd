// What the server's engine did while a phase ran: GetModel's engine_counters read before and
// after it, and their difference. It shows whether the scheduler kept the device busy: the
// share of the engine's busy time spent in forward passes, and its own time per pass.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::load {

struct EngineUse {
  int64_t steps = 0;        // forward passes
  int64_t step_tokens = 0;  // tokens they ran
  double forward_seconds = 0;
  double scheduling_seconds = 0;

  // forward / (forward + scheduling): how much of its busy time the engine kept the device
  // working.
  double forward_fraction() const;
};

// GetModel(model).engine_counters; a failed call's status with the call named.
absl::StatusOr<inference::v1::EngineCounters> ReadEngineCounters(
    inference::v1::InferenceService::Stub& stub, const std::string& model,
    std::optional<absl::Duration> timeout);

EngineUse EngineUseBetween(const inference::v1::EngineCounters& before,
                           const inference::v1::EngineCounters& after);

}  // namespace tessera::load
