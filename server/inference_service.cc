#include "server/inference_service.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/tokenizer/text_stream.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"
#include "server/generate_reactor.h"
#include "server/load_model_reactor.h"
#include "server/proto_convert.h"
#include "server/random_id.h"
#include "server/run_collector.h"
#include "server/sequence_canceller.h"
#include "server/server_info.h"
#include "server/status_mapping.h"

namespace tessera::server {
namespace {

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The steps of one run as one output: tokens and text in order, the last finish reason and
// running totals.
StepOutput MergeSteps(std::vector<StepOutput> steps) {
  StepOutput merged;
  for (StepOutput& step : steps) {
    std::move(step.tokens.begin(), step.tokens.end(), std::back_inserter(merged.tokens));
    merged.text += step.text;
    merged.finish_reason = step.finish_reason;
    merged.prompt_tokens = step.prompt_tokens;
    merged.cached_prompt_tokens = step.cached_prompt_tokens;
    merged.completion_tokens = step.completion_tokens;
  }
  return merged;
}

void ListModelsInto(const ModelRegistry& models,
                    google::protobuf::RepeatedPtrField<pb::ModelInfo>& out) {
  for (const ModelHandle& model : models.List()) {
    *out.Add() = ToModelInfoProto(model.name(), model.engine());
  }
}

absl::Status TokenizeInto(const ModelRegistry& models, const pb::TokenizeRequest& request,
                      pb::TokenizeResponse& response) {
  TESSERA_ASSIGN_OR_RETURN(ModelHandle model, models.Get(request.model()));
  const Tokenizer& tokenizer = model.engine().tokenizer();
  if (request.add_special_tokens() && tokenizer.add_bos() && tokenizer.bos_id()) {
    response.add_token_ids(*tokenizer.bos_id());
  }
  for (int32_t id : tokenizer.Encode(request.text())) response.add_token_ids(id);
  for (int32_t id : response.token_ids()) {
    // Vocabulary entries of a malformed file need not be UTF-8; proto strings must be.
    response.add_token_texts(ToValidUtf8(tokenizer.TokenText(id)));
  }
  return absl::OkStatus();
}

absl::Status DetokenizeInto(const ModelRegistry& models, const pb::DetokenizeRequest& request,
                        pb::DetokenizeResponse& response) {
  TESSERA_ASSIGN_OR_RETURN(ModelHandle model, models.Get(request.model()));
  const Tokenizer& tokenizer = model.engine().tokenizer();
  for (int i = 0; i < request.token_ids_size(); ++i) {
    const int32_t id = request.token_ids(i);
    if (id < 0 || id >= tokenizer.vocab_size()) {
      return InvalidField("token_ids",
                          absl::StrCat("token id ", id, " at index ", i,
                                       " is outside the vocabulary [0, ", tokenizer.vocab_size(),
                                       ")"));
    }
  }
  const std::vector<int32_t> ids(request.token_ids().begin(), request.token_ids().end());
  // Ids may end inside a character (or be any bytes); the text field must be valid UTF-8.
  response.set_text(ToValidUtf8(tokenizer.Decode(ids, /*at_text_start=*/true)));
  return absl::OkStatus();
}

// What a Prefill holds while its step runs. Members are released in reverse order: the
// sequence (its KV cache belongs to the engine) before the model.
struct PrefillCall {
  ModelHandle model;
  std::shared_ptr<Sequence> sequence;
  RequestRegistry::Registration registration;
  bool with_logprobs = false;
  pb::PrefillResponse* response = nullptr;
  grpc::ServerUnaryReactor* reactor = nullptr;
};

// What a Decode holds while its steps run. The lease keeps the session (model and sequence)
// alive and busy.
struct DecodeCall {
  std::optional<SessionTable::Lease> lease;
  RequestRegistry::Registration registration;
  pb::DecodeResponse* response = nullptr;
  grpc::ServerUnaryReactor* reactor = nullptr;
};

}  // namespace

grpc::ServerWriteReactor<pb::LoadModelResponse>* InferenceService::LoadModel(
    grpc::CallbackServerContext* context, const pb::LoadModelRequest* request) {
  return LoadModelReactor::Start(*request, models_, background_);
}

grpc::ServerUnaryReactor* InferenceService::UnloadModel(grpc::CallbackServerContext* context,
                                                        const pb::UnloadModelRequest* request,
                                                        pb::UnloadModelResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Unload waits for the model's requests to finish: not on a gRPC thread.
  background_.Run([this, name = request->name(), reactor] {
    const absl::Status unloaded =
        models_.Unload(name, [this, &name] { sessions_.ReleaseAllForModel(name); });
    reactor->Finish(ToGrpcStatus(unloaded));
  });
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::ListModels(grpc::CallbackServerContext* context,
                                                       const pb::ListModelsRequest* request,
                                                       pb::ListModelsResponse* response) {
  ListModelsInto(models_, *response->mutable_models());
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::GetModel(grpc::CallbackServerContext* context,
                                                     const pb::GetModelRequest* request,
                                                     pb::GetModelResponse* response) {
  absl::StatusOr<ModelHandle> model = models_.Get(request->name());
  if (model.ok()) *response->mutable_model() = ToModelInfoProto(model->name(), model->engine());
  return FinishNow(context, model.status());
}

grpc::ServerUnaryReactor* InferenceService::Tokenize(grpc::CallbackServerContext* context,
                                                     const pb::TokenizeRequest* request,
                                                     pb::TokenizeResponse* response) {
  return FinishNow(context, TokenizeInto(models_, *request, *response));
}

grpc::ServerUnaryReactor* InferenceService::Detokenize(grpc::CallbackServerContext* context,
                                                       const pb::DetokenizeRequest* request,
                                                       pb::DetokenizeResponse* response) {
  return FinishNow(context, DetokenizeInto(models_, *request, *response));
}

grpc::ServerUnaryReactor* InferenceService::Prefill(grpc::CallbackServerContext* context,
                                                    const pb::PrefillRequest* request,
                                                    pb::PrefillResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Status started = StartPrefill(*request, response, reactor);
  if (!started.ok()) reactor->Finish(ToGrpcStatus(started));
  return reactor;
}

absl::Status InferenceService::StartPrefill(const pb::PrefillRequest& request,
                                            pb::PrefillResponse* response,
                                            grpc::ServerUnaryReactor* reactor) {
  TESSERA_ASSIGN_OR_RETURN(ModelHandle model, models_.Get(request.model()));
  TESSERA_ASSIGN_OR_RETURN(GenerationRequest generation,
                           ToGenerationRequest(request.prompt(), request.sampling(), request.stop(),
                                               request.priority()));
  TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<Sequence> sequence,
                           model.engine().CreateSequence(std::move(generation)));
  TESSERA_ASSIGN_OR_RETURN(
      RequestRegistry::Registration registration,
      requests_.Register(request.request_id(), SequenceCanceller(model, sequence)));
  Engine& engine = model.engine();
  RunOptions first_token;
  first_token.max_steps = 1;
  PrefillCall call{model, sequence, std::move(registration), WantsLogprobs(request.sampling()),
                   response, reactor};
  return RunCollector::Run(
      engine, std::move(sequence), std::move(first_token),
      [this, call = std::move(call)](absl::Status status, std::vector<StepOutput> steps) mutable {
        const std::string request_id = call.registration.id();
        call.registration.Reset();
        // Stored before the call finishes, so the client can Decode as soon as it hears.
        absl::StatusOr<std::string> session_id =
            status.ok()
                ? sessions_.Add(call.model, call.sequence, request_id, call.with_logprobs)
                : absl::StatusOr<std::string>(std::move(status));
        if (session_id.ok()) {
          const StepOutput output = MergeSteps(std::move(steps));
          pb::PrefillResponse& response = *call.response;
          response.set_session_id(*session_id);
          response.set_request_id(request_id);
          if (!output.tokens.empty()) {
            *response.mutable_token() = ToGeneratedTokenProto(
                output.tokens.front(), call.model.engine().tokenizer(), call.with_logprobs);
          }
          response.set_text(output.text);
          response.set_finish_reason(ToFinishReasonProto(output.finish_reason));
          *response.mutable_usage() = ToUsageProto(output);
        }
        call.reactor->Finish(ToGrpcStatus(session_id.status()));
      });
}

grpc::ServerUnaryReactor* InferenceService::Decode(grpc::CallbackServerContext* context,
                                                   const pb::DecodeRequest* request,
                                                   pb::DecodeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Status started = StartDecode(*request, response, reactor);
  if (!started.ok()) reactor->Finish(ToGrpcStatus(started));
  return reactor;
}

absl::Status InferenceService::StartDecode(const pb::DecodeRequest& request,
                                           pb::DecodeResponse* response,
                                           grpc::ServerUnaryReactor* reactor) {
  if (request.num_tokens() < 0) {
    return InvalidField("num_tokens", absl::StrCat("must be >= 0, got ", request.num_tokens()));
  }
  TESSERA_ASSIGN_OR_RETURN(SessionTable::Lease lease, sessions_.Acquire(request.session_id()));
  const Session& session = lease.session();
  TESSERA_ASSIGN_OR_RETURN(
      RequestRegistry::Registration registration,
      requests_.Register(session.request_id(),
                         SequenceCanceller(session.model(), session.sequence())));
  RunOptions options;
  options.max_steps = std::max(request.num_tokens(), 1);
  options.append_tokens.assign(request.append_token_ids().begin(),
                               request.append_token_ids().end());
  Engine& engine = session.model().engine();
  std::shared_ptr<Sequence> sequence = session.sequence();
  DecodeCall call{std::move(lease), std::move(registration), response, reactor};
  return RunCollector::Run(
      engine, std::move(sequence), std::move(options),
      [call = std::move(call)](absl::Status status, std::vector<StepOutput> steps) mutable {
        call.registration.Reset();
        if (status.ok()) {
          const Session& session = call.lease->session();
          const Tokenizer& tokenizer = session.model().engine().tokenizer();
          const StepOutput output = MergeSteps(std::move(steps));
          pb::DecodeResponse& response = *call.response;
          for (const SampledToken& token : output.tokens) {
            *response.add_tokens() =
                ToGeneratedTokenProto(token, tokenizer, session.with_logprobs());
          }
          response.set_text(output.text);
          response.set_finish_reason(ToFinishReasonProto(output.finish_reason));
          *response.mutable_usage() = ToUsageProto(output);
        }
        // Idle again before the client hears back, so its next Decode finds the session free.
        call.lease.reset();
        call.reactor->Finish(ToGrpcStatus(status));
      });
}

grpc::ServerUnaryReactor* InferenceService::ReleaseSession(
    grpc::CallbackServerContext* context, const pb::ReleaseSessionRequest* request,
    pb::ReleaseSessionResponse* response) {
  return FinishNow(context, sessions_.Release(request->session_id()));
}

grpc::ServerUnaryReactor* InferenceService::ForkSession(grpc::CallbackServerContext* context,
                                                        const pb::ForkSessionRequest* request,
                                                        pb::ForkSessionResponse* response) {
  return FinishNow(context, ForkSessionInto(*request, *response));
}

absl::Status InferenceService::ForkSessionInto(const pb::ForkSessionRequest& request,
                                               pb::ForkSessionResponse& response) {
  // The lease keeps Decode off the session while its state is copied.
  TESSERA_ASSIGN_OR_RETURN(const SessionTable::Lease lease,
                           sessions_.Acquire(request.session_id()));
  const Session& parent = lease.session();
  TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<Sequence> child, parent.sequence()->Fork());
  StepOutput counts;
  counts.prompt_tokens = child->prompt_tokens();
  counts.cached_prompt_tokens = child->cached_prompt_tokens();
  counts.completion_tokens = child->completion_tokens();
  const std::string request_id = request.request_id().empty() ? RandomId() : request.request_id();
  TESSERA_ASSIGN_OR_RETURN(std::string id, sessions_.Add(parent.model(), std::move(child),
                                                         request_id, parent.with_logprobs()));
  response.set_session_id(std::move(id));
  response.set_request_id(request_id);
  *response.mutable_usage() = ToUsageProto(counts);
  return absl::OkStatus();
}

grpc::ServerWriteReactor<pb::GenerateResponse>* InferenceService::Generate(
    grpc::CallbackServerContext* context, const pb::GenerateRequest* request) {
  return GenerateReactor::Start(*request, models_, requests_, stream_writes_);
}

grpc::ServerUnaryReactor* InferenceService::Cancel(grpc::CallbackServerContext* context,
                                                   const pb::CancelRequest* request,
                                                   pb::CancelResponse* response) {
  return FinishNow(context, requests_.Cancel(request->request_id()));
}

grpc::ServerUnaryReactor* InferenceService::GetServerInfo(
    grpc::CallbackServerContext* context, const pb::GetServerInfoRequest* request,
    pb::GetServerInfoResponse* response) {
  response->set_version(ServerVersion());
  response->set_build(BuildDescription());
  for (inference::v1::DeviceInfo& device : DeviceInfos()) {
    *response->add_devices() = std::move(device);
  }
  ListModelsInto(models_, *response->mutable_models());
  return FinishNow(context, absl::OkStatus());
}

}  // namespace tessera::server
