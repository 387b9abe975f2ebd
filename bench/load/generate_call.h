// One Generate stream on gRPC's callback API: no thread per stream. It times the stream's
// messages as they arrive and hands its record on once the stream has ended.
#pragma once

#include <functional>
#include <optional>

#include "absl/time/time.h"
#include "bench/load/request_record.h"
#include "bench/load/token_timer.h"
#include "grpcpp/grpcpp.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::load {

namespace pb = ::tessera::inference::v1;

class GenerateCall : public grpc::ClientReadReactor<pb::GenerateResponse> {
 public:
  using Done = std::function<void(RequestRecord)>;

  // Sends `request` now. `done` runs once, on a gRPC thread, when the stream has ended; the call
  // deletes itself after it. `timeout` bounds the whole stream when set.
  static void Start(pb::InferenceService::Stub& stub, pb::GenerateRequest request,
                    std::optional<absl::Duration> timeout, Done done);

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  GenerateCall(pb::GenerateRequest request, Done done);

  grpc::ClientContext context_;
  pb::GenerateRequest request_;
  pb::GenerateResponse response_;
  Done done_;
  Clock::time_point sent_;
  TokenTimer timer_;
  int32_t reported_output_tokens_ = 0;
};

}  // namespace tessera::load
