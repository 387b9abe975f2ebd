// LoadModelReactor: one streaming LoadModel call. The load runs on a background thread, never
// on a gRPC thread; its progress is streamed, coalesced so that a slow client holds at most one
// message per load stage, and the stream ends with the model's info or the load's error. It
// deletes itself when both gRPC (OnDone) and the load are finished with it.
#pragma once

#include <atomic>
#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/engine/engine.h"
#include "grpcpp/support/server_callback.h"
#include "server/background_work.h"
#include "server/model_registry.h"
#include "tessera/inference/v1/inference.pb.h"

namespace tessera::server {

class LoadModelReactor final
    : public grpc::ServerWriteReactor<inference::v1::LoadModelResponse> {
 public:
  // Starts loading `request` on `background`; `models` must outlive the load.
  static LoadModelReactor* Start(const inference::v1::LoadModelRequest& request,
                                 ModelRegistry& models, BackgroundWork& background);

  void OnWriteDone(bool ok) override;
  // The client cancelled or its deadline passed: the load stops and nothing stays loaded.
  void OnCancel() override { cancelled_.store(true); }
  void OnDone() override;

 private:
  LoadModelReactor() = default;
  // Runs on the background thread.
  void Load(const inference::v1::LoadModelRequest& request, ModelRegistry& models);
  void OnProgress(LoadStage stage, int64_t bytes_read, int64_t bytes_total);
  // Starts the next write, or finishes the call once the load is over and everything is
  // written. Called without the lock: gRPC may run reactions inline.
  void Advance();
  // Records that one side (gRPC or the load) is finished; true when both are.
  bool MarkDone(bool& side);

  std::atomic<bool> cancelled_{false};
  absl::Mutex mutex_;
  std::deque<inference::v1::LoadModelResponse> pending_ ABSL_GUARDED_BY(mutex_);
  inference::v1::LoadModelResponse writing_;  // owned by gRPC while write_in_flight_
  bool write_in_flight_ ABSL_GUARDED_BY(mutex_) = false;
  bool stream_broken_ ABSL_GUARDED_BY(mutex_) = false;
  std::optional<absl::Status> load_status_ ABSL_GUARDED_BY(mutex_);
  bool finish_started_ ABSL_GUARDED_BY(mutex_) = false;
  bool grpc_done_ ABSL_GUARDED_BY(mutex_) = false;
  bool load_done_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace tessera::server
