#include "server/generate_reactor.h"

#include <utility>

#include "core/util/status_macros.h"
#include "server/proto_convert.h"
#include "server/sequence_canceller.h"
#include "server/status_mapping.h"

namespace tessera::server {

GenerateReactor* GenerateReactor::Start(const pb::GenerateRequest& request, ModelRegistry& models,
                                        RequestRegistry& requests, SerialExecutor& writes) {
  auto* reactor = new GenerateReactor(WantsLogprobs(request.sampling()), writes);
  const absl::Status started = reactor->Begin(request, models, requests);
  if (!started.ok()) {
    reactor->registration_.Reset();
    {
      absl::MutexLock lock(&reactor->mutex_);
      reactor->engine_done_ = true;
      reactor->finish_started_ = true;
    }
    reactor->Finish(ToGrpcStatus(started));
  }
  return reactor;
}

absl::Status GenerateReactor::Begin(const pb::GenerateRequest& request, ModelRegistry& models,
                                    RequestRegistry& requests) {
  TESSERA_ASSIGN_OR_RETURN(model_, models.Get(request.model()));
  TESSERA_ASSIGN_OR_RETURN(GenerationRequest generation,
                           ToGenerationRequest(request.prompt(), request.sampling(), request.stop(),
                                               request.priority()));
  TESSERA_ASSIGN_OR_RETURN(sequence_, model_->engine().CreateSequence(std::move(generation)));
  TESSERA_ASSIGN_OR_RETURN(registration_,
                           requests.Register(request.request_id(),
                                             SequenceCanceller(*model_, sequence_)));
  {
    absl::MutexLock lock(&mutex_);
    pending_.set_request_id(registration_.id());
  }
  // From here on the engine may call the sink on its thread at any moment.
  return model_->engine().Run(sequence_, RunOptions{}, this);
}

void GenerateReactor::OnStep(StepOutput output) {
  const Tokenizer& tokenizer = model_->engine().tokenizer();
  bool write_in_flight = false;
  {
    absl::MutexLock lock(&mutex_);
    for (const SampledToken& token : output.tokens) {
      *pending_.add_tokens() = ToGeneratedTokenProto(token, tokenizer, with_logprobs_);
    }
    pending_.mutable_text()->append(output.text);
    if (output.finish_reason != FinishReason::kNone) {
      pending_.set_finish_reason(ToFinishReasonProto(output.finish_reason));
      *pending_.mutable_usage() = ToUsageProto(output);
    }
    has_pending_ = true;
    ++unwritten_steps_;
    write_in_flight = write_in_flight_;
  }
  // A write in flight takes the pending steps along when it completes (OnWriteDone).
  if (!write_in_flight) writes_.Post([this] { Advance(); });
}

bool GenerateReactor::ReadyForMore() {
  absl::MutexLock lock(&mutex_);
  if (unwritten_steps_ < kMaxUnwrittenSteps) return true;
  engine_waiting_ = true;
  return false;
}

void GenerateReactor::OnRunDone(absl::Status status) {
  // The request is no longer running: Cancel now answers NOT_FOUND.
  registration_.Reset();
  {
    absl::MutexLock lock(&mutex_);
    run_status_ = std::move(status);
  }
  // After any Advance this thread posted, so the last steps are written before the call ends.
  writes_.Post([this] {
    Advance();
    if (MarkDone(engine_done_)) delete this;
  });
}

void GenerateReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mutex_);
    write_in_flight_ = false;
    if (!ok) stream_broken_ = true;
  }
  if (!ok) CancelRun();
  Advance();
}

void GenerateReactor::OnCancel() {
  {
    absl::MutexLock lock(&mutex_);
    stream_broken_ = true;
  }
  CancelRun();
}

void GenerateReactor::OnDone() {
  if (MarkDone(grpc_done_)) delete this;
}

void GenerateReactor::CancelRun() {
  // The engine finishes the sequence at its next step, even while it waits on flow control.
  if (sequence_ != nullptr) model_->engine().Cancel(*sequence_);
}

void GenerateReactor::Advance() {
  bool wake_engine = false;
  std::optional<grpc::Status> finish_status;
  {
    absl::MutexLock lock(&mutex_);
    if (write_in_flight_ || finish_started_) return;
    if (has_pending_ && !stream_broken_) {
      writing_ = std::move(pending_);
      pending_.Clear();
      pending_.set_request_id(writing_.request_id());
      has_pending_ = false;
      unwritten_steps_ = 0;
      write_in_flight_ = true;
      wake_engine = std::exchange(engine_waiting_, false);
    } else if (run_status_.has_value()) {
      finish_started_ = true;
      finish_status = stream_broken_ && run_status_->ok()
                          ? grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled")
                          : ToGrpcStatus(*run_status_);
    } else {
      return;
    }
  }
  // Wake takes the engine's lock, under which it asks ReadyForMore: never call it holding ours.
  if (wake_engine) model_->engine().Wake();
  if (finish_status.has_value()) {
    Finish(*std::move(finish_status));
  } else {
    StartWrite(&writing_);
  }
}

bool GenerateReactor::MarkDone(bool& side) {
  absl::MutexLock lock(&mutex_);
  side = true;
  return grpc_done_ && engine_done_;
}

}  // namespace tessera::server
