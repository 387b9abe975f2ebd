// Engine behaviour on the default model: stop criteria, sessions run in several parts,
// cancellation, flow control, and admission: runs waiting for room in the KV cache, a bounded
// wait, requests the cache could never hold.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>

#include "absl/time/clock.h"
#include "core/models/cuda_backend.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/engine_test_util.h"

namespace tessera {
namespace {

using ::testing::ElementsAreArray;
using testing::CollectingSink;
using testing::GreedyRequest;
using testing::LoadDefaultModel;
using testing::RunToEnd;

constexpr int32_t kBos = 1;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = LoadDefaultModel();
    ASSERT_NE(engine_, nullptr);
  }
  std::vector<int32_t> GreedyTokens(std::vector<int32_t> prompt, int32_t n) {
    auto sink = RunToEnd(*engine_, GreedyRequest(std::move(prompt), n));
    EXPECT_TRUE(sink->run_status.ok()) << sink->run_status;
    return sink->Tokens();
  }
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, MaxTokensStopsWithLength) {
  auto sink = RunToEnd(*engine_, GreedyRequest({kBos}, 7));
  ASSERT_TRUE(sink->run_status.ok());
  EXPECT_EQ(sink->Tokens().size(), 7u);
  EXPECT_EQ(sink->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(sink->outputs.back().prompt_tokens, 1);
  EXPECT_EQ(sink->outputs.back().completion_tokens, 7);
}

// A run of n tokens after a prompt of p: one pass over the prompt (it fits the token budget),
// then one pass for each token but the last, which nothing reads back.
TEST_F(EngineTest, CountersCountEachPassAndItsTokens) {
  constexpr int32_t kTokens = 9;
  const std::vector<int32_t> prompt = {kBos, 300, 301, 302, 303};
  const EngineCounters before = engine_->counters();
  EXPECT_EQ(before.steps, 0);
  ASSERT_TRUE(RunToEnd(*engine_, GreedyRequest(prompt, kTokens))->run_status.ok());
  const EngineCounters after = engine_->counters();
  EXPECT_EQ(after.steps, kTokens);
  EXPECT_EQ(after.step_tokens, static_cast<int64_t>(prompt.size()) + kTokens - 1);
  EXPECT_GT(after.forward, absl::ZeroDuration());
  EXPECT_GE(after.scheduling, absl::ZeroDuration());
}

TEST_F(EngineTest, TextEqualsDecodedTokens) {
  auto sink = RunToEnd(*engine_, GreedyRequest({kBos}, 60));
  EXPECT_EQ(sink->Text(), engine_->tokenizer().Decode(sink->Tokens(), /*at_text_start=*/true));
}

TEST_F(EngineTest, PromptFedAtOnceContinuesLikeTokenByToken) {
  // Tokens generated one by one from BOS, then the same prefix given as a prompt in one
  // forward pass, must lead to the same continuation.
  const std::vector<int32_t> all = GreedyTokens({kBos}, 40);
  ASSERT_EQ(all.size(), 40u);
  std::vector<int32_t> prompt = {kBos};
  prompt.insert(prompt.end(), all.begin(), all.begin() + 15);
  const std::vector<int32_t> continuation = GreedyTokens(prompt, 25);
  EXPECT_THAT(continuation, ElementsAreArray(all.begin() + 15, all.end()));
}

TEST_F(EngineTest, StopStringEndsBeforeTheString) {
  const std::string full = RunToEnd(*engine_, GreedyRequest({kBos}, 100))->Text();
  const std::string stop = "little girl";
  ASSERT_NE(full.find(stop), std::string::npos) << full;
  GenerationRequest request = GreedyRequest({kBos}, 100);
  request.stop.stop_strings = {stop};
  auto sink = RunToEnd(*engine_, std::move(request));
  EXPECT_EQ(sink->finish_reason(), FinishReason::kStop);
  EXPECT_EQ(sink->Text(), full.substr(0, full.find(stop)));
}

TEST_F(EngineTest, StopTokenIsReturnedAndEndsTheRun) {
  const std::vector<int32_t> all = GreedyTokens({kBos}, 30);
  GenerationRequest request = GreedyRequest({kBos}, 30);
  request.stop.stop_token_ids = {all[4]};
  auto sink = RunToEnd(*engine_, std::move(request));
  EXPECT_EQ(sink->finish_reason(), FinishReason::kStop);
  const std::vector<int32_t> tokens = sink->Tokens();
  ASSERT_FALSE(tokens.empty());
  EXPECT_EQ(tokens.back(), all[4]);
  EXPECT_LE(tokens.size(), 5u);
}

TEST_F(EngineTest, SessionRunInPartsMatchesOneRun) {
  const std::vector<int32_t> all = GreedyTokens({kBos}, 20);
  auto sequence = engine_->CreateSequence(GreedyRequest({kBos}, 20));
  ASSERT_TRUE(sequence.ok());
  std::vector<int32_t> tokens;
  for (int32_t steps : {1, 4, 15}) {
    CollectingSink sink;
    ASSERT_TRUE(engine_->Run(*sequence, RunOptions{.max_steps = steps}, &sink).ok());
    ASSERT_TRUE(sink.Wait().ok());
    EXPECT_EQ(sink.Tokens().size(), static_cast<size_t>(steps));
    for (int32_t t : sink.Tokens()) tokens.push_back(t);
  }
  EXPECT_EQ(tokens, all);
  EXPECT_TRUE((*sequence)->finished());
  CollectingSink sink;
  absl::Status finished = engine_->Run(*sequence, RunOptions{.max_steps = 1}, &sink);
  EXPECT_EQ(finished.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReasonOf(finished), std::string(reason::kSessionFinished));
}

TEST_F(EngineTest, AppendedTokensJoinTheContext) {
  const std::vector<int32_t> first = GreedyTokens({kBos}, 1);
  auto sequence = engine_->CreateSequence(GreedyRequest({kBos}, 10));
  ASSERT_TRUE(sequence.ok());
  CollectingSink prefill;
  ASSERT_TRUE(engine_->Run(*sequence, RunOptions{.max_steps = 1}, &prefill).ok());
  ASSERT_TRUE(prefill.Wait().ok());
  ASSERT_EQ(prefill.Tokens(), first);
  const std::vector<int32_t> appended = {300, 301};
  CollectingSink decode;
  ASSERT_TRUE(engine_->Run(*sequence, RunOptions{.max_steps = 3, .append_tokens = appended}, &decode).ok());
  ASSERT_TRUE(decode.Wait().ok());
  // Same as generating from the whole context given as a prompt.
  std::vector<int32_t> context = {kBos, first[0], 300, 301};
  EXPECT_EQ(decode.Tokens(), GreedyTokens(context, 3));
}

TEST_F(EngineTest, SameSeedSameTokens) {
  GenerationRequest request = GreedyRequest({kBos}, 40);
  request.sampling.temperature = 1.0f;
  request.sampling.seed = 1234;
  const std::vector<int32_t> a = RunToEnd(*engine_, request)->Tokens();
  const std::vector<int32_t> b = RunToEnd(*engine_, request)->Tokens();
  EXPECT_EQ(a, b);
  request.sampling.seed = 99;
  EXPECT_NE(RunToEnd(*engine_, request)->Tokens(), a);
}

// A sink that takes nothing until told to, to hold a run in the engine's queue.
class BlockedSink : public CollectingSink {
 public:
  bool ReadyForMore() override { return ready.load(); }
  std::atomic<bool> ready{false};
};

TEST_F(EngineTest, CancelEndsARunWaitingOnFlowControl) {
  auto sequence = engine_->CreateSequence(GreedyRequest({kBos}, 50));
  ASSERT_TRUE(sequence.ok());
  BlockedSink sink;
  ASSERT_TRUE(engine_->Run(*sequence, RunOptions{}, &sink).ok());
  // While the run waits, the sequence is busy.
  CollectingSink other;
  absl::Status busy = engine_->Run(*sequence, RunOptions{}, &other);
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReasonOf(busy), std::string(reason::kSessionBusy));
  engine_->Cancel(**sequence);
  ASSERT_TRUE(sink.Wait().ok());
  EXPECT_EQ(sink.finish_reason(), FinishReason::kCancelled);
  EXPECT_TRUE(sink.Tokens().empty());
}

TEST_F(EngineTest, FlowControlResumesOnWake) {
  auto sequence = engine_->CreateSequence(GreedyRequest({kBos}, 5));
  ASSERT_TRUE(sequence.ok());
  BlockedSink sink;
  ASSERT_TRUE(engine_->Run(*sequence, RunOptions{}, &sink).ok());
  sink.ready = true;
  engine_->Wake();
  ASSERT_TRUE(sink.Wait().ok());
  EXPECT_EQ(sink.Tokens(), GreedyTokens({kBos}, 5));
}

TEST_F(EngineTest, EmptyPromptIsInvalid) {
  GenerationRequest request;
  request.prompt = std::string();
  auto sequence = engine_->CreateSequence(request);
  EXPECT_EQ(sequence.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(sequence.status()), "prompt.text");
  request.prompt = std::vector<int32_t>{};
  EXPECT_EQ(FieldOf(engine_->CreateSequence(request).status()), "prompt.token_ids");
}

TEST_F(EngineTest, TokenIdOutsideVocabularyIsInvalid) {
  auto sequence = engine_->CreateSequence(GreedyRequest({kBos, 512}, 5));
  EXPECT_EQ(sequence.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(sequence.status()), "prompt.token_ids");
}

TEST_F(EngineTest, MaxTokensBeyondContextIsRejected) {
  const int32_t context = engine_->model_info().context_length;
  auto sequence = engine_->CreateSequence(GreedyRequest({kBos, 5}, context - 1));
  EXPECT_EQ(sequence.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(sequence.status()), std::string(reason::kContextLengthExceeded));
  EXPECT_EQ(FieldOf(sequence.status()), "stop.max_tokens");
  EXPECT_TRUE(engine_->CreateSequence(GreedyRequest({kBos, 5}, context - 2)).ok());
  std::vector<int32_t> long_prompt(context, kBos);
  EXPECT_EQ(ErrorReasonOf(engine_->CreateSequence(GreedyRequest(long_prompt, 0)).status()),
            std::string(reason::kContextLengthExceeded));
}

TEST_F(EngineTest, ContextFullEndsWithLength) {
  // A prompt that leaves room for exactly 3 tokens, with no max_tokens.
  const int32_t context = engine_->model_info().context_length;
  std::vector<int32_t> prompt(context - 3, 300);
  prompt[0] = kBos;
  GenerationRequest request = GreedyRequest(prompt, 0);
  request.stop.ignore_eos = true;
  auto sink = RunToEnd(*engine_, request);
  ASSERT_TRUE(sink->run_status.ok()) << sink->run_status;
  EXPECT_EQ(sink->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(sink->Tokens().size(), 3u);
}

// BOS, then `n` - 1 copies of a token.
std::vector<int32_t> LongPrompt(int n) {
  std::vector<int32_t> prompt(n, 300);
  prompt[0] = kBos;
  return prompt;
}

// 100 tokens of capacity: 7 blocks of 16. A new sequence reserves its prompt and the position
// after it: 6 blocks for a prompt of 80 tokens, all 7 for 100.
TEST(EngineKvCacheTest, RunsWaitForRoomInArrivalOrder) {
  std::unique_ptr<Engine> engine = LoadDefaultModel(/*kv_cache_capacity_tokens=*/100);
  ASSERT_NE(engine, nullptr);
  std::shared_ptr<Sequence> holder = *engine->CreateSequence(GreedyRequest(LongPrompt(80), 10));
  ASSERT_TRUE(holder->has_kv_cache());
  GenerationRequest waits_for_room = GreedyRequest(LongPrompt(40), 40);
  waits_for_room.stop.ignore_eos = true;
  auto waiting = engine->CreateSequence(std::move(waits_for_room));
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_FALSE((*waiting)->has_kv_cache());
  testing::CollectingSink waiting_sink, small_sink;
  ASSERT_TRUE(engine->Run(*waiting, RunOptions{}, &waiting_sink).ok());
  // A small one that would fit now still waits behind the run before it.
  auto small = engine->CreateSequence(GreedyRequest({kBos}, 5));
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_FALSE((*small)->has_kv_cache());
  ASSERT_TRUE(engine->Run(*small, RunOptions{}, &small_sink).ok());
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(waiting_sink.outputs.empty());
  EXPECT_TRUE(small_sink.outputs.empty());

  holder.reset();  // a session released on another thread: its blocks come back
  EXPECT_TRUE(waiting_sink.Wait().ok());
  EXPECT_TRUE(small_sink.Wait().ok());
  EXPECT_EQ(waiting_sink.finish_reason(), FinishReason::kLength);
  EXPECT_EQ(waiting_sink.Tokens().size(), 40u);
  EXPECT_EQ(small_sink.Tokens().size(), 5u);
  waiting->reset();
  small->reset();
  EXPECT_EQ(engine->kv_cache_free_tokens(), engine->kv_cache_capacity_tokens());
}

TEST(EngineKvCacheTest, RequestsThePoolCouldNeverHoldAreInvalid) {
  std::unique_ptr<Engine> engine = LoadDefaultModel(/*kv_cache_capacity_tokens=*/100);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(engine->CreateSequence(GreedyRequest({kBos}, 111)).ok());  // 112: all 7 blocks
  auto too_big = engine->CreateSequence(GreedyRequest({kBos}, 112));
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(too_big.status()), std::string(reason::kExceedsKvCache));
}

// Without max_tokens a sequence may grow until the context is full, or the whole KV cache when
// that is smaller (112 positions here, against a context of 2048).
TEST(EngineKvCacheTest, WithoutMaxTokensTheWholeKvCacheBoundsTheLength) {
  std::unique_ptr<Engine> engine = LoadDefaultModel(/*kv_cache_capacity_tokens=*/100);
  ASSERT_NE(engine, nullptr);
  ASSERT_GT(engine->model_info().context_length, 112);
  GenerationRequest request = GreedyRequest(LongPrompt(10), 0);
  request.stop.ignore_eos = true;
  auto sink = RunToEnd(*engine, std::move(request));
  ASSERT_TRUE(sink->run_status.ok()) << sink->run_status;
  EXPECT_EQ(sink->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(sink->Tokens().size(), 102u);
  auto too_long = engine->CreateSequence(GreedyRequest(LongPrompt(112), 0));
  EXPECT_EQ(ErrorReasonOf(too_long.status()), std::string(reason::kExceedsKvCache));
  EXPECT_TRUE(engine->CreateSequence(GreedyRequest(LongPrompt(111), 0)).ok());
}

TEST(EngineKvCacheTest, ABoundedNumberOfRunsWait) {
  EngineOptions options{.path = testing::DefaultModelPath(), .kv_cache_capacity_tokens = 100};
  options.max_waiting_runs = 1;
  std::unique_ptr<Engine> engine = *Engine::Load(options, [](LoadStage, int64_t, int64_t) {});
  std::shared_ptr<Sequence> holder = *engine->CreateSequence(GreedyRequest(LongPrompt(100), 5));
  std::shared_ptr<Sequence> first = *engine->CreateSequence(GreedyRequest({kBos}, 20));
  std::shared_ptr<Sequence> second = *engine->CreateSequence(GreedyRequest({kBos}, 20));
  testing::CollectingSink first_sink, second_sink;
  ASSERT_TRUE(engine->Run(first, RunOptions{}, &first_sink).ok());
  const absl::Status refused = engine->Run(second, RunOptions{}, &second_sink);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorReasonOf(refused), std::string(reason::kQueueFull));
  EXPECT_EQ(RetryDelayOf(refused), kQueueFullRetryDelay);
  holder.reset();
  EXPECT_TRUE(first_sink.Wait().ok());
}

// A run cancelled while it waits ends as cancelled without ever taking KV cache.
TEST(EngineKvCacheTest, CancelledWhileWaiting) {
  std::unique_ptr<Engine> engine = LoadDefaultModel(/*kv_cache_capacity_tokens=*/100);
  ASSERT_NE(engine, nullptr);
  std::shared_ptr<Sequence> holder = *engine->CreateSequence(GreedyRequest(LongPrompt(100), 5));
  std::shared_ptr<Sequence> waiting = *engine->CreateSequence(GreedyRequest({kBos}, 20));
  testing::CollectingSink sink;
  ASSERT_TRUE(engine->Run(waiting, RunOptions{}, &sink).ok());
  engine->Cancel(*waiting);
  EXPECT_TRUE(sink.Wait().ok());
  EXPECT_EQ(sink.finish_reason(), FinishReason::kCancelled);
  EXPECT_TRUE(sink.Tokens().empty());
  EXPECT_FALSE(waiting->has_kv_cache());
}

// A fraction sizes the pool to that share of the free memory, in tokens of stories260K's 1,280
// bytes (keys and values, 5 layers, 4 KV heads of 8 dims, fp32).
TEST(EngineLoadTest, KvCacheMemoryFractionSizesThePool) {
  constexpr int64_t kBytesPerToken = 2 * 5 * 4 * 8 * 4;
  constexpr double kFraction = 0.01;
  const int64_t free_before = HostKvMemory().FreeBytes();
  EngineOptions options{.path = testing::DefaultModelPath(), .device = "cpu"};
  options.kv_cache_memory_fraction = kFraction;
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Load(options, [](LoadStage, int64_t, int64_t) {});
  const int64_t free_after = HostKvMemory().FreeBytes();
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ((*engine)->model_info().kv_shape.bytes_per_token(), kBytesPerToken);
  // Free memory moves while other tests run: within a quarter of its readings around the load.
  const double capacity = static_cast<double>((*engine)->kv_cache_capacity_tokens());
  const auto tokens_in = [&](int64_t bytes) {
    return kFraction * static_cast<double>(bytes) / kBytesPerToken;
  };
  EXPECT_GT(capacity, 0.75 * tokens_in(std::min(free_before, free_after)));
  EXPECT_LT(capacity, 1.25 * tokens_in(std::max(free_before, free_after)));
  EXPECT_EQ((*engine)->kv_cache_capacity_tokens() % kKvBlockTokens, 0);
}

TEST(EngineLoadTest, KvCacheMemoryFractionOutsideItsRangeOrBesideTokensIsRejected) {
  for (const double fraction : {-0.5, 1.5, std::nan("")}) {
    SCOPED_TRACE(fraction);
    EngineOptions options{.path = testing::DefaultModelPath(), .device = "cpu"};
    options.kv_cache_memory_fraction = fraction;
    auto engine = Engine::Load(options, [](LoadStage, int64_t, int64_t) {});
    EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(engine.status().message(), ::testing::HasSubstr("kv_cache_memory_fraction"));
  }
  EngineOptions both{.path = testing::DefaultModelPath(),
                     .device = "cpu",
                     .kv_cache_capacity_tokens = 100,
                     .kv_cache_memory_fraction = 0.5};
  auto engine = Engine::Load(both, [](LoadStage, int64_t, int64_t) {});
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(engine.status().message(), ::testing::HasSubstr("not both"));
}

TEST(EngineLoadTest, UnknownDeviceIsRejected) {
  EngineOptions options{.path = testing::DefaultModelPath(), .device = "tpu"};
  auto engine = Engine::Load(options, [](LoadStage, int64_t, int64_t) {});
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(engine.status()), std::string(reason::kUnsupportedDevice));
}

TEST(EngineLoadTest, ReportsProgressThroughEveryStage) {
  std::vector<LoadStage> stages;
  int64_t last_read = -1, total = 0;
  EngineOptions options{.path = testing::DefaultModelPath()};
  auto engine = Engine::Load(options, [&](LoadStage stage, int64_t read, int64_t all) {
    if (stages.empty() || stages.back() != stage) stages.push_back(stage);
    if (stage == LoadStage::kReadingWeights) {
      last_read = read;
      total = all;
    }
  });
  ASSERT_TRUE(engine.ok()) << engine.status();
  std::vector<LoadStage> expected = {LoadStage::kOpeningFile, LoadStage::kReadingWeights,
                                     LoadStage::kBuildingModel};
  // By default a model goes to the GPU when there is one.
  if (CudaDeviceCount() > 0) expected.push_back(LoadStage::kUploadingWeights);
  EXPECT_THAT(stages, ElementsAreArray(expected));
  // F32 weights: embedding and output 512*64 each, output norm 64, and per layer q/o 64*64,
  // k/v 32*64, gate/up/down 172*64 and two norms of 64: 292,800 values.
  EXPECT_EQ(total, 292800 * 4);
  EXPECT_EQ(last_read, total);
  EXPECT_EQ((*engine)->model_info().weight_bytes, total);
}

}  // namespace
}  // namespace tessera
