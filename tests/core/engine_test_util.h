// Helpers for tests that drive an Engine directly.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "core/engine/engine.h"
#include "core/engine/sequence.h"

namespace tessera::testing {

inline std::string DefaultModelPath() { return std::string(TESSERA_MODELS_DIR) + "/stories260K.gguf"; }

// Collects a run's outputs; Wait() returns once the engine reported the end of the run.
class CollectingSink : public GenerationSink {
 public:
  void OnStep(StepOutput output) override { outputs.push_back(std::move(output)); }
  void OnRunDone(absl::Status status) override {
    run_status = std::move(status);
    done.Notify();
  }
  absl::Status Wait() {
    done.WaitForNotification();
    return run_status;
  }
  std::string Text() const {
    std::string text;
    for (const StepOutput& output : outputs) text += output.text;
    return text;
  }
  std::vector<int32_t> Tokens() const {
    std::vector<int32_t> tokens;
    for (const StepOutput& output : outputs) {
      for (const SampledToken& token : output.tokens) tokens.push_back(token.token);
    }
    return tokens;
  }
  std::vector<float> Logprobs() const {
    std::vector<float> logprobs;
    for (const StepOutput& output : outputs) {
      for (const SampledToken& token : output.tokens) logprobs.push_back(token.logprob);
    }
    return logprobs;
  }
  FinishReason finish_reason() const {
    return outputs.empty() ? FinishReason::kNone : outputs.back().finish_reason;
  }

  std::vector<StepOutput> outputs;
  absl::Status run_status;
  absl::Notification done;
};

// That `actual` ended well with exactly `expected`'s tokens, text, finish reason and
// log-probabilities.
inline void ExpectSameGeneration(const CollectingSink& actual, const CollectingSink& expected) {
  ASSERT_TRUE(actual.run_status.ok()) << actual.run_status;
  EXPECT_EQ(actual.Tokens(), expected.Tokens());
  EXPECT_EQ(actual.Text(), expected.Text());
  EXPECT_EQ(actual.finish_reason(), expected.finish_reason());
  EXPECT_EQ(actual.Logprobs(), expected.Logprobs());
}

// `device`: as EngineOptions::device; empty for the default (a GPU when there is one).
inline std::unique_ptr<Engine> LoadDefaultModel(int64_t kv_cache_capacity_tokens = 0,
                                                std::string device = "") {
  EngineOptions options{.path = DefaultModelPath(),
                        .device = std::move(device),
                        .kv_cache_capacity_tokens = kv_cache_capacity_tokens};
  auto engine = Engine::Load(options, [](LoadStage, int64_t, int64_t) {});
  return engine.ok() ? *std::move(engine) : nullptr;
}

inline GenerationRequest GreedyRequest(std::vector<int32_t> prompt, int32_t max_tokens) {
  GenerationRequest request;
  request.prompt = std::move(prompt);
  request.sampling.temperature = 0;
  request.stop.max_tokens = max_tokens;
  return request;
}

// Runs `request` to the end (or for `max_steps`) and returns the sink.
inline std::unique_ptr<CollectingSink> RunToEnd(Engine& engine, GenerationRequest request) {
  auto sink = std::make_unique<CollectingSink>();
  auto sequence = engine.CreateSequence(std::move(request));
  if (!sequence.ok()) {
    sink->run_status = sequence.status();
    return sink;
  }
  absl::Status status = engine.Run(*sequence, RunOptions{}, sink.get());
  if (!status.ok()) {
    sink->run_status = status;
    return sink;
  }
  sink->run_status = sink->Wait();
  return sink;
}

}  // namespace tessera::testing
