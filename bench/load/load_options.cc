#include "bench/load/load_options.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace tessera::load {

absl::Status CheckOptions(const LoadOptions& o) {
  auto bad = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (o.server.empty()) return bad("--server: empty address");
  if (o.model.empty()) return bad("--model is required");
  if ((o.concurrency > 0) == o.open_loop()) {
    return bad("give one of --concurrency N (closed loop) and --rate R (open loop)");
  }
  if (o.concurrency < 0) return bad("--concurrency must be at least 1");
  if (!std::isfinite(o.rate) || o.rate < 0) return bad("--rate must be a positive number");
  if (o.open_loop() && o.max_outstanding < 1) return bad("--max_outstanding must be at least 1");
  if ((o.requests > 0) == o.duration.has_value()) {
    return bad("give one of --requests N and --duration D");
  }
  if (o.requests < 0) return bad("--requests must be at least 1");
  if (o.duration.has_value() && *o.duration <= absl::ZeroDuration()) {
    return bad("--duration must be positive");
  }
  if (o.warmup < 0) return bad("--warmup must be 0 or more");
  if (o.shared_prefix_tokens < 0) return bad("--shared_prefix_tokens must be 0 or more");
  if (o.shared_prefix_tokens > 0 && o.prompt_tokens.min() <= o.shared_prefix_tokens) {
    return bad("--shared_prefix_tokens ", o.shared_prefix_tokens,
               " leaves no token of their own to prompts of ", o.prompt_tokens.min(),
               " tokens: every prompt must be longer than the shared prefix");
  }
  if (!std::isfinite(o.temperature) || o.temperature < 0) {
    return bad("--temperature must be 0 (greedy) or more");
  }
  if (o.connections < 1) return bad("--connections must be at least 1");
  if (o.request_timeout.has_value() && *o.request_timeout <= absl::ZeroDuration()) {
    return bad("--request_timeout must be positive");
  }
  return absl::OkStatus();
}

}  // namespace tessera::load
