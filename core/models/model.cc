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

absl::StatusOr<std::vector<TokenChoice>> Model::ForwardBatchAndChoose(
    std::span<const SequenceChunk> chunks, std::span<const ChoiceSpec> choices,
    absl::FunctionRef<void()> meanwhile) const {
  meanwhile();
  std::vector<TokenChoice> chosen;
  chosen.reserve(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    TESSERA_ASSIGN_OR_RETURN(
        TokenChoice choice,
        ForwardAndChoose(chunks[i].tokens, *chunks[i].cache, choices[i].adjustments,
                         choices[i].draw, choices[i].n_top));
    chosen.push_back(choice);
  }
  return chosen;
}

}  // namespace tessera
