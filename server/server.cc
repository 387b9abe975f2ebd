#include "server/server.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "kernels/cpu/ops.h"

namespace tessera::server {
namespace {

// How long calls still running at shutdown may take before they are cancelled.
constexpr auto kShutdownGrace = std::chrono::seconds(5);

std::string ServiceName() {
  return std::string(inference::v1::InferenceService::service_full_name());
}

// The health-check name under which one model's status is reported.
std::string ModelHealthName(const std::string& model) {
  return absl::StrCat(ServiceName(), "/", model);
}

void IgnoreProgress(LoadStage, int64_t, int64_t) {}

}  // namespace

Server::Server(const ServerOptions& options)
    : sessions_(options.session_idle_timeout),
      service_(models_, sessions_, requests_) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  cpu::SetThreadCount(options.threads);
  auto server = std::unique_ptr<Server>(new Server(options));
  for (const ModelToLoad& model : options.models) {
    EngineOptions engine_options;
    engine_options.path = model.path;
    engine_options.kv_cache_capacity_tokens = options.kv_cache_tokens;
    engine_options.kv_cache_memory_fraction = options.kv_cache_memory_fraction;
    engine_options.device = options.device;
    engine_options.share_prompt_prefixes = options.prefix_sharing;
    engine_options.max_batch_tokens = options.max_batch_tokens;
    absl::StatusOr<ModelHandle> loaded =
        server->models_.Load(model.name, engine_options, IgnoreProgress);
    if (!loaded.ok()) return loaded.status();
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.RegisterService(&server->service_);
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("could not listen on \"", options.listen_address, "\""));
  }

  grpc::HealthCheckServiceInterface* health = server->grpc_server_->GetHealthCheckService();
  health->SetServingStatus(ServiceName(), true);
  server->models_.SetServingCallback([health](const std::string& name, bool serving) {
    health->SetServingStatus(ModelHealthName(name), serving);
  });
  return server;
}

Server::~Server() {
  if (grpc_server_ == nullptr) return;
  grpc_server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  // The health service goes with the gRPC server.
  models_.SetServingCallback(nullptr);
}

}  // namespace tessera::server
