#include "bench/batched_decode.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "bench/random_model.h"
#include "core/engine/kv_cache.h"
#include "core/util/status_macros.h"

namespace tessera::bench {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

absl::StatusOr<BatchedDecodeFigures> MeasureBatchedDecode(const Model& model, int batch,
                                                          int64_t context, int warmup_steps,
                                                          int steps, int64_t decode_weight_bytes,
                                                          int64_t sliding_window, double bandwidth,
                                                          std::mt19937& rng) {
  const ModelInfo& info = model.info();
  const int64_t capacity = context + warmup_steps + steps;
  // Each sequence reserves whole blocks.
  const int64_t pool_tokens = batch * KvBlocksFor(capacity) * kKvBlockTokens;
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<KvCachePool> pool,
                           KvCachePool::Create(info.kv_shape, pool_tokens, model.kv_memory()));
  std::vector<std::unique_ptr<KvCache>> caches;
  for (int i = 0; i < batch; ++i) {
    TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, pool->Allocate(capacity));
    TESSERA_RETURN_IF_ERROR(
        model.ForwardAndChoose(RandomTokens(context, info.vocab_size, rng), *cache, {}, nullptr, 0)
            .status());
    caches.push_back(std::move(cache));
  }
  const std::vector<ChoiceSpec> greedy(batch);
  std::vector<int32_t> tokens(batch);
  std::vector<SequenceChunk> chunks(batch);
  Clock::time_point start;
  for (int step = 0; step < warmup_steps + steps; ++step) {
    if (step == warmup_steps) start = Clock::now();
    tokens = RandomTokens(batch, info.vocab_size, rng);
    for (int i = 0; i < batch; ++i) chunks[i] = {{&tokens[i], 1}, caches[i].get()};
    TESSERA_RETURN_IF_ERROR(model.ForwardBatchAndChoose(chunks, greedy, [] {}).status());
  }
  BatchedDecodeFigures figures{.batch = batch, .context = context, .steps = steps};
  figures.seconds_per_step = std::chrono::duration<double>(Clock::now() - start).count() / steps;
  // The cache holds context + warmup_steps positions at the first timed step; the middle of the
  // timed steps stands for them all.
  int64_t positions = context + warmup_steps + steps / 2;
  if (sliding_window > 0) positions = std::min(positions, sliding_window);
  figures.bytes_per_step = static_cast<double>(
      decode_weight_bytes + int64_t{batch} * positions * info.kv_shape.bytes_per_token());
  figures.bound_tokens_per_second = batch * bandwidth / figures.bytes_per_step;
  return figures;
}

}  // namespace tessera::bench
