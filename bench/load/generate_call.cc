#include "bench/load/generate_call.h"

#include <utility>

namespace tessera::load {

GenerateCall::GenerateCall(pb::GenerateRequest request, Done done)
    : request_(std::move(request)), done_(std::move(done)), timer_(Clock::now()) {}

void GenerateCall::Start(pb::InferenceService::Stub& stub, pb::GenerateRequest request,
                         std::optional<absl::Duration> timeout, Done done) {
  auto* call = new GenerateCall(std::move(request), std::move(done));
  if (timeout.has_value()) call->context_.set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
  stub.async()->Generate(&call->context_, &call->request_, call);
  call->StartRead(&call->response_);
  call->sent_ = Clock::now();
  call->timer_ = TokenTimer(call->sent_);
  call->StartCall();
}

void GenerateCall::OnReadDone(bool ok) {
  if (!ok) return;  // the stream has ended; OnDone follows
  timer_.Arrived(response_.tokens_size(), Clock::now());
  if (response_.has_usage()) reported_output_tokens_ = response_.usage().completion_tokens();
  StartRead(&response_);
}

void GenerateCall::OnDone(const grpc::Status& status) {
  RequestRecord record{
      .prompt_tokens = request_.prompt().token_ids().ids_size(),
      .max_tokens = request_.stop().max_tokens(),
      .output_tokens = timer_.tokens(),
      .reported_output_tokens = reported_output_tokens_,
      .first_token_ms = timer_.first_token_ms(),
      .gaps_ms = timer_.gaps_ms(),
      .latency_ms = MillisecondsBetween(sent_, Clock::now()),
      .code = status.error_code(),
      .error_message = status.error_message(),
  };
  Done done = std::move(done_);
  delete this;
  done(std::move(record));
}

}  // namespace tessera::load
