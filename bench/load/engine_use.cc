#include "bench/load/engine_use.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace tessera::load {

namespace pb = ::tessera::inference::v1;

double EngineUse::forward_fraction() const {
  const double busy = forward_seconds + scheduling_seconds;
  return busy > 0 ? forward_seconds / busy : 0;
}

absl::StatusOr<pb::EngineCounters> ReadEngineCounters(pb::InferenceService::Stub& stub,
                                                      const std::string& model,
                                                      std::optional<absl::Duration> timeout) {
  grpc::ClientContext context;
  if (timeout.has_value()) context.set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
  pb::GetModelRequest request;
  request.set_name(model);
  pb::GetModelResponse response;
  if (const grpc::Status s = stub.GetModel(&context, request, &response); !s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("GetModel(", model, "): ", s.error_message()));
  }
  return response.model().engine_counters();
}

EngineUse EngineUseBetween(const pb::EngineCounters& before, const pb::EngineCounters& after) {
  return {.steps = after.steps() - before.steps(),
          .step_tokens = after.step_tokens() - before.step_tokens(),
          .forward_seconds = after.forward_seconds() - before.forward_seconds(),
          .scheduling_seconds = after.scheduling_seconds() - before.scheduling_seconds()};
}

}  // namespace tessera::load
