#include "server/load_model_reactor.h"

#include <utility>

#include "server/proto_convert.h"
#include "server/status_mapping.h"

namespace tessera::server {

LoadModelReactor* LoadModelReactor::Start(const pb::LoadModelRequest& request,
                                          ModelRegistry& models, BackgroundWork& background) {
  auto* reactor = new LoadModelReactor();
  background.Run([reactor, request, &models] {
    reactor->Load(request, models);
    if (reactor->MarkDone(reactor->load_done_)) delete reactor;
  });
  return reactor;
}

void LoadModelReactor::Load(const pb::LoadModelRequest& request, ModelRegistry& models) {
  EngineOptions options = ToEngineOptions(request);
  options.cancel_requested = &cancelled_;
  absl::StatusOr<ModelHandle> model = models.Load(
      request.name(), options,
      [this](LoadStage stage, int64_t bytes_read, int64_t bytes_total) {
        OnProgress(stage, bytes_read, bytes_total);
      });
  {
    absl::MutexLock lock(&mutex_);
    if (model.ok()) {
      *pending_.emplace_back().mutable_model() = ToModelInfoProto(model->name(), model->engine());
    }
    load_status_ = model.status();
  }
  Advance();
}

void LoadModelReactor::OnProgress(LoadStage stage, int64_t bytes_read, int64_t bytes_total) {
  {
    absl::MutexLock lock(&mutex_);
    const pb::LoadStage stage_proto = ToLoadStageProto(stage);
    // A newer report of the same stage replaces one the client has not received yet.
    if (pending_.empty() || pending_.back().progress().stage() != stage_proto) {
      pending_.emplace_back();
    }
    pb::LoadProgress* progress = pending_.back().mutable_progress();
    progress->set_stage(stage_proto);
    progress->set_bytes_read(bytes_read);
    progress->set_bytes_total(bytes_total);
  }
  Advance();
}

void LoadModelReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mutex_);
    write_in_flight_ = false;
    if (!ok) stream_broken_ = true;
  }
  Advance();
}

void LoadModelReactor::OnDone() {
  if (MarkDone(grpc_done_)) delete this;
}

void LoadModelReactor::Advance() {
  std::optional<grpc::Status> finish_status;
  {
    absl::MutexLock lock(&mutex_);
    if (write_in_flight_ || finish_started_) return;
    if (!pending_.empty() && !stream_broken_) {
      writing_ = std::move(pending_.front());
      pending_.pop_front();
      write_in_flight_ = true;
    } else if (load_status_.has_value()) {
      finish_started_ = true;
      // A load that succeeded for a client that went away still leaves the model loaded.
      finish_status = stream_broken_ && load_status_->ok()
                          ? grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled")
                          : ToGrpcStatus(*load_status_);
    } else {
      return;
    }
  }
  if (finish_status.has_value()) {
    Finish(*std::move(finish_status));
  } else {
    StartWrite(&writing_);
  }
}

bool LoadModelReactor::MarkDone(bool& side) {
  absl::MutexLock lock(&mutex_);
  side = true;
  return grpc_done_ && load_done_;
}

}  // namespace tessera::server
