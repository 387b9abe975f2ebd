// GenerateReactor: one streaming Generate call. The engine produces steps on its own thread; the
// reactor gathers them into the next response and keeps at most one write in flight. While too
// many steps wait unwritten, it tells the engine it is not ready for more (flow control) and wakes
// it once the stream drains. It deletes itself when both gRPC (OnDone) and the engine (OnRunDone)
// are finished with it. The engine's thread never starts a write itself: it posts that to a
// SerialExecutor, so the write overlaps the next step.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/engine/engine.h"
#include "core/engine/sequence.h"
#include "grpcpp/support/server_callback.h"
#include "server/model_registry.h"
#include "server/request_registry.h"
#include "server/serial_executor.h"
#include "tessera/inference/v1/inference.pb.h"

namespace tessera::server {

class GenerateReactor final : public grpc::ServerWriteReactor<inference::v1::GenerateResponse>,
                              public GenerationSink {
 public:
  // Starts the generation, or a reactor that finishes the call at once with the error that
  // prevented it.
  static GenerateReactor* Start(const inference::v1::GenerateRequest& request,
                                ModelRegistry& models, RequestRegistry& requests,
                                SerialExecutor& writes);

  // gRPC side.
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // Engine side.
  void OnStep(StepOutput output) override;
  void OnRunDone(absl::Status status) override;
  bool ReadyForMore() override;

 private:
  // Steps the engine may run ahead of the stream before it waits for the client.
  static constexpr int kMaxUnwrittenSteps = 16;

  GenerateReactor(bool with_logprobs, SerialExecutor& writes)
      : with_logprobs_(with_logprobs), writes_(writes) {}
  absl::Status Begin(const inference::v1::GenerateRequest& request, ModelRegistry& models,
                     RequestRegistry& requests);
  // Starts the next write, or finishes the call once the run is over and everything is
  // written. Reactor operations are started without the lock held: gRPC may run reactions
  // inline.
  void Advance();
  // Records that one side (gRPC or the engine) is finished; true when both are.
  bool MarkDone(bool& side);
  void CancelRun();

  // Declared first so it is released last: the sequence's KV cache belongs to its engine.
  std::optional<ModelHandle> model_;
  std::shared_ptr<Sequence> sequence_;
  RequestRegistry::Registration registration_;
  const bool with_logprobs_;
  SerialExecutor& writes_;  // runs the engine side's Advance, in order

  absl::Mutex mutex_;
  inference::v1::GenerateResponse pending_ ABSL_GUARDED_BY(mutex_);  // not yet written
  bool has_pending_ ABSL_GUARDED_BY(mutex_) = false;
  int unwritten_steps_ ABSL_GUARDED_BY(mutex_) = 0;
  bool engine_waiting_ ABSL_GUARDED_BY(mutex_) = false;  // ReadyForMore said no
  inference::v1::GenerateResponse writing_;  // owned by gRPC while write_in_flight_
  bool write_in_flight_ ABSL_GUARDED_BY(mutex_) = false;
  bool stream_broken_ ABSL_GUARDED_BY(mutex_) = false;  // a write failed or the call cancelled
  std::optional<absl::Status> run_status_ ABSL_GUARDED_BY(mutex_);
  bool finish_started_ ABSL_GUARDED_BY(mutex_) = false;
  bool grpc_done_ ABSL_GUARDED_BY(mutex_) = false;
  bool engine_done_ ABSL_GUARDED_BY(mutex_) = false;  // OnRunDone returned, or no run started
};

}  // namespace tessera::server
