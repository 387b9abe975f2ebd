// Time to first token and inter-token latency of greedy streams on one model file, measured in
// process (an Engine, as the server holds it) and through the gRPC server (a server in this
// process on loopback, a client streaming Generate), so that the server's own overhead shows as
// the difference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/percentile.h"

namespace tessera::bench {

struct LatencyOptions {
  std::string model_path;   // a .gguf file or Hugging Face directory a server can load
  int requests = 20;        // sequential generations, after one warm-up
  int64_t prompt_tokens = 512;  // random token ids
  int output_tokens = 128;  // generated greedily, past any end-of-sequence token
  int64_t kv_cache_tokens = 0;  // the engine's KV-cache capacity
};

struct LatencyFigures {
  std::vector<double> time_to_first_token_ms;  // one per request
  std::vector<double> inter_token_ms;          // every gap between consecutive tokens
  double tokens_per_second = 0;                // generated tokens over the requests' total time
};

absl::StatusOr<LatencyFigures> MeasureInProcess(const LatencyOptions& options);
absl::StatusOr<LatencyFigures> MeasureThroughGrpc(const LatencyOptions& options);

}  // namespace tessera::bench
