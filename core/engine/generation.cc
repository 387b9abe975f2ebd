#include "core/engine/generation.h"

namespace tessera {

absl::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "none";
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kEndOfSequence: return "end_of_sequence";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

}  // namespace tessera
