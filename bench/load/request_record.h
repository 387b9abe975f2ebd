// What one request of a load run measured.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "grpcpp/support/status.h"

namespace tessera::load {

struct RequestRecord {
  int32_t prompt_tokens = 0;
  int32_t max_tokens = 0;  // the output length asked for
  // Tokens counted in the stream's messages, and the count the last message reported
  // (Usage.completion_tokens; 0 when the stream failed before it).
  int32_t output_tokens = 0;
  int32_t reported_output_tokens = 0;
  std::optional<double> first_token_ms;  // from sending the request; nullopt without tokens
  std::vector<double> gaps_ms;           // between consecutive tokens (token_timer.h)
  double latency_ms = 0;                 // from sending the request to the stream's end
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string error_message;  // the status's message when code is not OK

  bool ok() const { return code == grpc::StatusCode::OK; }
};

}  // namespace tessera::load
