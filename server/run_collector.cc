#include "server/run_collector.h"

#include <utility>

namespace tessera::server {

absl::Status RunCollector::Run(Engine& engine, std::shared_ptr<Sequence> sequence,
                               RunOptions options, Done done) {
  auto collector = std::unique_ptr<RunCollector>(new RunCollector(std::move(done)));
  absl::Status queued = engine.Run(std::move(sequence), std::move(options), collector.get());
  // Once queued, the collector belongs to the run and deletes itself in OnRunDone.
  if (queued.ok()) collector.release();
  return queued;
}

void RunCollector::OnStep(StepOutput output) { steps_.push_back(std::move(output)); }

void RunCollector::OnRunDone(absl::Status status) {
  std::move(done_)(std::move(status), std::move(steps_));
  delete this;
}

}  // namespace tessera::server
