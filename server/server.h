// Server: builds and runs the gRPC server: the InferenceService, the standard health service
// (overall, the service name, and "<service>/<model>" per loaded model) and server reflection.
// Used by main.cc and by the tests, which listen on port 0 to get a free port.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/engine/engine.h"
#include "grpcpp/server.h"
#include "server/inference_service.h"
#include "server/model_registry.h"
#include "server/request_registry.h"
#include "server/session_table.h"

namespace tessera::server {

struct ModelToLoad {
  std::string name;
  std::string path;
};

struct ServerOptions {
  std::string listen_address = "0.0.0.0:50051";
  // Loaded before the server starts listening.
  std::vector<ModelToLoad> models;
  // Threads of the CPU kernels; 0: one per core.
  int threads = 0;
  absl::Duration session_idle_timeout = absl::Minutes(10);
  // KV-cache capacity of each model loaded at start, in tokens, or as a share of the memory its
  // device has free once the weights are in (EngineOptions); 0: the engine's default.
  int64_t kv_cache_tokens = 0;
  double kv_cache_memory_fraction = 0;
  // Device of each model loaded at start ("cpu", "cuda", "cuda:N"); empty: the engine's default.
  std::string device;
  // EngineOptions::share_prompt_prefixes and max_batch_tokens of each model loaded at start.
  bool prefix_sharing = true;
  int32_t max_batch_tokens = kDefaultMaxBatchTokens;
};

class Server {
 public:
  // Loads the models, then starts listening. Errors: a model's load error, or UNAVAILABLE when
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  // Stops listening, cancels calls still running after a grace period, then unloads the models.
  ~Server();

  // The port bound, the one chosen by the system when the address asked for port 0.
  int port() const { return port_; }

 private:
  explicit Server(const ServerOptions& options);

  // In order of destruction (last first): calls stop, then sessions, then models.
  ModelRegistry models_;
  SessionTable sessions_;
  RequestRegistry requests_;
  InferenceService service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int port_ = 0;
};

}  // namespace tessera::server
