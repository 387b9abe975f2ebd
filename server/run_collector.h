// RunCollector: the GenerationSink of a unary call (Prefill, Decode). It gathers the outputs of
// one engine run and hands them over when the run ends.
#pragma once

#include <memory>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "core/engine/engine.h"
#include "core/engine/generation.h"
#include "core/engine/sequence.h"

namespace tessera::server {

class RunCollector final : public GenerationSink {
 public:
  // Called once, on the engine thread, with the run's status and every step it produced.
  using Done = absl::AnyInvocable<void(absl::Status status, std::vector<StepOutput> steps) &&>;

  // Queues the run. On error nothing runs and `done` is dropped uncalled.
  static absl::Status Run(Engine& engine, std::shared_ptr<Sequence> sequence, RunOptions options,
                          Done done);

  void OnStep(StepOutput output) override;
  void OnRunDone(absl::Status status) override;

 private:
  explicit RunCollector(Done done) : done_(std::move(done)) {}

  Done done_;
  std::vector<StepOutput> steps_;
};

}  // namespace tessera::server
