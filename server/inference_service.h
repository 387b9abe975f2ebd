// InferenceService: tessera.inference.v1.InferenceService on gRPC's callback API. Streaming
// calls get a reactor of their own (GenerateReactor, LoadModelReactor); unary calls that run the
// model finish from the engine thread; nothing blocks a gRPC thread on compute or on a wait.
#pragma once

#include "grpcpp/support/server_callback.h"
#include "server/background_work.h"
#include "server/model_registry.h"
#include "server/request_registry.h"
#include "server/serial_executor.h"
#include "server/session_table.h"
#include "tessera/inference/v1/inference.grpc.pb.h"

namespace tessera::server {

class InferenceService final : public inference::v1::InferenceService::CallbackService {
 public:
  // The registries and the session table must outlive the service.
  InferenceService(ModelRegistry& models, SessionTable& sessions, RequestRegistry& requests)
      : models_(models), sessions_(sessions), requests_(requests) {}
  // Waits for loads and unloads still running in the background.
  ~InferenceService() override = default;

  grpc::ServerWriteReactor<inference::v1::LoadModelResponse>* LoadModel(
      grpc::CallbackServerContext* context,
      const inference::v1::LoadModelRequest* request) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* context,
                                        const inference::v1::UnloadModelRequest* request,
                                        inference::v1::UnloadModelResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const inference::v1::ListModelsRequest* request,
                                       inference::v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const inference::v1::GetModelRequest* request,
                                     inference::v1::GetModelResponse* response) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const inference::v1::TokenizeRequest* request,
                                     inference::v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const inference::v1::DetokenizeRequest* request,
                                       inference::v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Prefill(grpc::CallbackServerContext* context,
                                    const inference::v1::PrefillRequest* request,
                                    inference::v1::PrefillResponse* response) override;
  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* context,
                                   const inference::v1::DecodeRequest* request,
                                   inference::v1::DecodeResponse* response) override;
  grpc::ServerUnaryReactor* ReleaseSession(
      grpc::CallbackServerContext* context, const inference::v1::ReleaseSessionRequest* request,
      inference::v1::ReleaseSessionResponse* response) override;
  grpc::ServerUnaryReactor* ForkSession(grpc::CallbackServerContext* context,
                                        const inference::v1::ForkSessionRequest* request,
                                        inference::v1::ForkSessionResponse* response) override;
  grpc::ServerWriteReactor<inference::v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context,
      const inference::v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const inference::v1::CancelRequest* request,
                                   inference::v1::CancelResponse* response) override;
  grpc::ServerUnaryReactor* GetServerInfo(grpc::CallbackServerContext* context,
                                          const inference::v1::GetServerInfoRequest* request,
                                          inference::v1::GetServerInfoResponse* response) override;

 private:
  // Queue the engine run of a Prefill or Decode, which finishes `reactor` when it ends. An error
  // means nothing was queued and the caller finishes the call.
  absl::Status StartPrefill(const inference::v1::PrefillRequest& request,
                            inference::v1::PrefillResponse* response,
                            grpc::ServerUnaryReactor* reactor);
  absl::Status StartDecode(const inference::v1::DecodeRequest& request,
                           inference::v1::DecodeResponse* response,
                           grpc::ServerUnaryReactor* reactor);
  // Forks the session (Sequence::Fork) and stores the fork as a new session.
  absl::Status ForkSessionInto(const inference::v1::ForkSessionRequest& request,
                               inference::v1::ForkSessionResponse& response);

  ModelRegistry& models_;
  SessionTable& sessions_;
  RequestRegistry& requests_;
  // Starts the writes of Generate streams for the engines' threads.
  SerialExecutor stream_writes_;
  // Last, so it is destroyed first: its tasks use everything above.
  BackgroundWork background_;
};

}  // namespace tessera::server
