#include "core/models/transformer.h"

#include <algorithm>
#include <vector>

#include "core/util/status_macros.h"
#include "kernels/cpu/ops.h"

namespace tessera {

absl::StatusOr<std::vector<SequenceChunk>> ChunksToRun(
    int64_t rope_switch_position, std::span<const SequenceChunk> chunks,
    std::vector<std::vector<int32_t>>& reencoded) {
  std::vector<SequenceChunk> run(chunks.begin(), chunks.end());
  reencoded.assign(chunks.size(), {});
  for (size_t i = 0; i < run.size(); ++i) {
    KvCache& cache = *run[i].cache;
    const int64_t n_tokens = static_cast<int64_t>(run[i].tokens.size());
    if (n_tokens == 0 || cache.length() + n_tokens > cache.capacity()) {
      return absl::InternalError("Forward: no tokens, or no room in the cache");
    }
    TESSERA_RETURN_IF_ERROR(cache.AddBlocksFor(cache.length() + n_tokens));
    if (!MustReencode(rope_switch_position, cache.length(), n_tokens)) continue;
    reencoded[i].assign(cache.tokens().begin(), cache.tokens().end());
    reencoded[i].insert(reencoded[i].end(), run[i].tokens.begin(), run[i].tokens.end());
    TESSERA_RETURN_IF_ERROR(cache.Clear());
    run[i].tokens = reencoded[i];
  }
  return run;
}

absl::Status Transformer::Forward(std::span<const int32_t> tokens, KvCache& cache,
                                  std::span<float> logits) const {
  const SequenceChunk chunk{tokens, &cache};
  return ForwardBatch({&chunk, 1}, logits);
}

absl::StatusOr<std::vector<TokenChoice>> Transformer::ForwardBatchAndChoose(
    std::span<const SequenceChunk> chunks, std::span<const ChoiceSpec> choices,
    absl::FunctionRef<void()> meanwhile) const {
  meanwhile();
  const int64_t vocab = info_.vocab_size;
  std::vector<float> logits(chunks.size() * vocab);  // [chunks, vocab]
  TESSERA_RETURN_IF_ERROR(ForwardBatch(chunks, logits));
  std::vector<TokenChoice> chosen;
  chosen.reserve(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ChoiceSpec& spec = choices[i];
    chosen.push_back(cpu::ChooseToken(logits.data() + i * vocab, vocab, spec.adjustments.data(),
                                      static_cast<int64_t>(spec.adjustments.size()), spec.draw,
                                      spec.n_top));
  }
  return chosen;
}

absl::Status Transformer::ForwardBatch(std::span<const SequenceChunk> chunks,
                                       std::span<float> logits) const {
  const int64_t dim = info_.hidden_size;
  const int64_t vocab = info_.vocab_size;
  if (static_cast<int64_t>(logits.size()) != static_cast<int64_t>(chunks.size()) * vocab) {
    return absl::InternalError("Forward: logits do not hold a vocabulary per chunk");
  }
  std::vector<std::vector<int32_t>> reencoded;
  TESSERA_ASSIGN_OR_RETURN(const std::vector<SequenceChunk> pass,
                           ChunksToRun(rope_switch_position_, chunks, reencoded));
  std::vector<int32_t> tokens;  // [n] every chunk's tokens, one chunk after another
  for (const SequenceChunk& chunk : pass) {
    tokens.insert(tokens.end(), chunk.tokens.begin(), chunk.tokens.end());
  }
  const int64_t n = static_cast<int64_t>(tokens.size());
  std::vector<float> x(n * dim);      // [n, hidden] the residual stream
  std::vector<float> norm(n * dim);   // [n, hidden]
  std::vector<float> block(n * dim);  // [n, hidden] a block's output
  cpu::EmbeddingGather(weights_.token_embd, tokens.data(), n, x.data());
  for (size_t l = 0; l < weights_.layers.size(); ++l) {
    const TransformerLayer& layer = weights_.layers[l];
    // x = x + attention(rms_norm(x))
    cpu::RmsNorm(x.data(), layer.attn_norm, rms_norm_eps_, n, dim, norm.data());
    layer.attention.Forward(norm.data(), pass, static_cast<int>(l), block.data());
    cpu::Add(x.data(), block.data(), n * dim, x.data());
    // x = x + feed_forward(rms_norm(x))
    cpu::RmsNorm(x.data(), layer.ffn_norm, rms_norm_eps_, n, dim, norm.data());
    SwiGluFeedForward(layer.ffn, norm.data(), n, block.data());
    cpu::Add(x.data(), block.data(), n * dim, x.data());
  }
  // Logits of each chunk's last token only: that is all sampling needs.
  std::vector<float> last(pass.size() * dim);  // [chunks, hidden]
  int64_t end = 0;                             // one past the chunk's last row
  for (size_t i = 0; i < pass.size(); ++i) {
    pass[i].cache->Extend(pass[i].tokens);
    end += static_cast<int64_t>(pass[i].tokens.size());
    std::copy_n(x.data() + (end - 1) * dim, dim, last.data() + i * dim);
  }
  const int64_t rows = static_cast<int64_t>(pass.size());
  cpu::RmsNorm(last.data(), weights_.output_norm, rms_norm_eps_, rows, dim, last.data());
  cpu::Matmul(last.data(), weights_.output, rows, logits.data());
  return absl::OkStatus();
}

}  // namespace tessera
