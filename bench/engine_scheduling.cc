// engine-scheduling: the engine's own time between forward passes (forming batches, admitting
// runs, settling and handing out each step's tokens) with many streams in flight, in process on
// the CPU with a tiny model, so that the passes are short and nothing else shares the machine's
// cores. That time is the host's between two passes, during which a GPU would wait; here it is
// measured apart from the passes, by the engine's own counters.
//
//   engine-scheduling [--model models/stories260K.gguf] [--streams 64] [--requests 512]
//                     [--prompt_tokens 200] [--output_tokens 56]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/engine/engine.h"
#include "core/engine/sequence.h"

ABSL_FLAG(std::string, model, "models/stories260K.gguf", "GGUF model file, run on the CPU.");
ABSL_FLAG(int, streams, 64, "Runs in flight at once: a finished one is replaced at once.");
ABSL_FLAG(int, requests, 512, "Runs in all, after `streams` warm-up ones.");
ABSL_FLAG(int, prompt_tokens, 200, "Prompt length, in token ids.");
ABSL_FLAG(int, output_tokens, 56, "Tokens each run generates (end of sequence ignored).");

namespace tessera {
namespace {

// Counts the runs that ended, for the driver to replace; Add is called on the engine's thread.
class Finished {
 public:
  void Add() {
    absl::MutexLock lock(&mutex_);
    ++ended_;
  }
  // Waits for a run to end, and takes it off the count.
  void WaitForOne() {
    absl::MutexLock lock(&mutex_);
    mutex_.Await(absl::Condition(
        +[](int* ended) { return *ended > 0; }, &ended_));
    --ended_;
  }

 private:
  absl::Mutex mutex_;
  int ended_ ABSL_GUARDED_BY(mutex_) = 0;
};

// Takes each step's tokens and drops them, as fast as a sink can.
class DroppingSink : public GenerationSink {
 public:
  DroppingSink(Finished& finished, int run) : finished_(finished), run_(run) {}
  void OnStep(StepOutput) override {}
  void OnRunDone(absl::Status status) override {
    if (!status.ok()) std::fprintf(stderr, "run %d: %s\n", run_, status.ToString().c_str());
    finished_.Add();
  }

 private:
  Finished& finished_;
  int run_;
};

// Runs `count` requests, `streams` at a time; the prompts differ from their first token, so that
// no run shares another's KV blocks.
void RunClosedLoop(Engine& engine, int streams, int count, int first_id) {
  Finished finished;
  std::vector<std::unique_ptr<DroppingSink>> sinks;
  const int32_t vocab = engine.model_info().vocab_size;
  auto start = [&](int run) {
    GenerationRequest request;
    std::vector<int32_t> prompt(absl::GetFlag(FLAGS_prompt_tokens));
    for (size_t i = 0; i < prompt.size(); ++i) {
      prompt[i] = static_cast<int32_t>((first_id + run * 7 + i * 13) % (vocab - 3) + 3);
    }
    request.prompt = std::move(prompt);
    request.sampling.temperature = 0;
    request.stop.max_tokens = absl::GetFlag(FLAGS_output_tokens);
    request.stop.ignore_eos = true;
    absl::StatusOr<std::shared_ptr<Sequence>> sequence = engine.CreateSequence(std::move(request));
    if (!sequence.ok()) {
      std::fprintf(stderr, "CreateSequence: %s\n", sequence.status().ToString().c_str());
      std::exit(1);
    }
    sinks.push_back(std::make_unique<DroppingSink>(finished, run));
    if (const absl::Status s = engine.Run(*sequence, RunOptions{}, sinks.back().get()); !s.ok()) {
      std::fprintf(stderr, "Run: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  };
  int started = 0;
  while (started < std::min(streams, count)) start(started++);
  for (int ended = 0; ended < count; ++ended) {
    finished.WaitForOne();
    if (started < count) start(started++);
  }
}

int Main() {
  EngineOptions options;
  options.path = absl::GetFlag(FLAGS_model);
  options.device = "cpu";
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Load(options, [](LoadStage, int64_t, int64_t) {});
  if (!engine.ok()) {
    std::fprintf(stderr, "engine-scheduling: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  const int streams = absl::GetFlag(FLAGS_streams);
  RunClosedLoop(**engine, streams, streams, 0);  // warm-up
  const EngineCounters before = (*engine)->counters();
  const absl::Time begin = absl::Now();
  RunClosedLoop(**engine, streams, absl::GetFlag(FLAGS_requests), 1000);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - begin);
  const EngineCounters after = (*engine)->counters();
  const double passes = static_cast<double>(after.steps - before.steps);
  const double forward = absl::ToDoubleSeconds(after.forward - before.forward);
  const double scheduling = absl::ToDoubleSeconds(after.scheduling - before.scheduling);
  std::printf(
      "%d streams, %d requests in %.3f s: %.0f passes of %.1f tokens; a pass %.1f us, scheduling "
      "between passes %.1f us a pass (%.1f%% of the engine's busy time)\n",
      streams, absl::GetFlag(FLAGS_requests), seconds, passes,
      static_cast<double>(after.step_tokens - before.step_tokens) / passes, 1e6 * forward / passes,
      1e6 * scheduling / passes, 100 * scheduling / (forward + scheduling));
  return 0;
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the engine's own time between forward passes with many streams, on the CPU");
  absl::ParseCommandLine(argc, argv);
  // As tessera-server runs (server/main.cc).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return tessera::Main();
}
