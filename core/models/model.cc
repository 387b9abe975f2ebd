#include "core/models/model.h"

#include <vector>

#include "core/util/status_macros.h"
#include "kernels/cpu/ops.h"

namespace tessera {

absl::StatusOr<TokenChoice> Model::ForwardAndChoose(std::span<const int32_t> tokens, KvCache& cache,
                                                    std::span<const LogitAdjustment> adjustments,
                                                    const TokenDraw* draw, int n_top) const {
  std::vector<float> logits(info().vocab_size);  // [vocab]
  TESSERA_RETURN_IF_ERROR(Forward(tokens, cache, logits));
  return cpu::ChooseToken(logits.data(), info().vocab_size, adjustments.data(),
                          static_cast<int64_t>(adjustments.size()), draw, n_top);
}

}  // namespace tessera
