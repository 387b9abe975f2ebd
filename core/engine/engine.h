// Engine: one loaded model with its tokenizer, KV-cache pool and the thread that runs its
// forward passes. Callers create sequences, then ask the engine to run steps of them; results
// come back through a GenerationSink on the engine's thread. The engine knows nothing of RPC.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/engine/generation.h"
#include "core/engine/kv_cache.h"
#include "core/format/gguf.h"
#include "core/models/model.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"

namespace tessera {

class Sequence;

inline constexpr int32_t kDefaultMaxBatchTokens = 512;
inline constexpr int32_t kDefaultMaxWaitingRuns = 256;
// The retry hint of a run refused because too many wait.
inline constexpr absl::Duration kQueueFullRetryDelay = absl::Seconds(1);

struct EngineOptions {
  std::string path;    // GGUF model file or Hugging Face model directory
  std::string device;  // as ChooseDevice (device_choice.h) reads it; empty for the default
  // Total KV-cache tokens for all sequences, rounded up to whole blocks; 0: as
  // kv_cache_memory_fraction says.
  int64_t kv_cache_capacity_tokens = 0;
  // The share of the device's memory free once the weights are in that the KV cache fills, in
  // (0, 1], where kv_cache_capacity_tokens is 0 (the passes' working buffers, allocated as
  // batches grow, need some of the rest); 0: kDefaultFullContextSequences full contexts, within
  // kDefaultKvMemoryFraction of that memory.
  double kv_cache_memory_fraction = 0;
  // Watched while loading: once it reads true, Load stops and returns CANCELLED.
  const std::atomic<bool>* cancel_requested = nullptr;
  // Most tokens one step feeds the model: every decoding sequence's token first, then prompts
  // in chunks of what is left (first come first served), so a long prompt never holds the
  // decoding streams up for longer than one step of this many tokens.
  int32_t max_batch_tokens = kDefaultMaxBatchTokens;
  // Whether sequences whose prompts start alike share the KV blocks of that prefix (where the
  // model allows it: ModelInfo::prefix_determines_kv).
  bool share_prompt_prefixes = true;
  // Most runs that may wait for room in the KV cache; more are refused (QUEUE_FULL).
  int32_t max_waiting_runs = kDefaultMaxWaitingRuns;
};

inline constexpr int64_t kDefaultFullContextSequences = 8;
inline constexpr double kDefaultKvMemoryFraction = 0.9;

enum class LoadStage : uint8_t { kOpeningFile, kReadingWeights, kBuildingModel, kUploadingWeights };
using LoadProgressCallback =
    std::function<void(LoadStage stage, int64_t bytes_read, int64_t bytes_total)>;

// Receives the results of Engine::Run. Every method is called on the engine's thread.
class GenerationSink {
 public:
  virtual ~GenerationSink() = default;
  // After each step of the run.
  virtual void OnStep(StepOutput output) = 0;
  // Exactly once, last: OK when the run finished its steps or the sequence finished (the last
  // OnStep then carried the finish reason), otherwise the error that stopped it.
  virtual void OnRunDone(absl::Status status) = 0;
  // Flow control: the engine steps the run only while this is true. A sink that returns false
  // calls Engine::Wake() once it can take more. A step's output reaches OnStep while the next
  // pass computes, so this may be asked once more before the sink has the step before.
  virtual bool ReadyForMore() { return true; }
};

// What the engine thread has done since the model loaded, for judging whether it keeps the
// device busy: while requests are ready, the time outside forward passes is the scheduler's own
// (forming batches, admitting and preempting runs, settling outputs), and the device waits
// through it. The sinks hear of a step while the next pass computes, inside it.
struct EngineCounters {
  int64_t steps = 0;        // forward passes, each over one batch of sequence chunks
  int64_t step_tokens = 0;  // tokens those passes ran: prompt chunks and decoded tokens alike
  // In the passes: the device's work, the launch of it, and the host's work beside it.
  absl::Duration forward;
  // Between passes while the thread had work; added as each loop iteration ends, so it lags the
  // others (counted before the pass's results go out) by up to one step.
  absl::Duration scheduling;
};

struct RunOptions {
  int32_t max_steps = 0;                 // 0: until the sequence finishes
  std::vector<int32_t> append_tokens;    // fed to the model after the last sampled token
};

class Engine {
 public:
  // Errors as for GgufFile::Open (OpenHfDirectory for a directory), TokenizerFromGguf,
  // BuildModelFromGguf, EndOfGenerationIds, ChooseDevice and UploadToCuda (RESOURCE_EXHAUSTED
  // when the GPU lacks the memory), plus INVALID_ARGUMENT (INVALID_MODEL_FILE) for a
  // tokenizer.chat_template that does not parse; CANCELLED once options.cancel_requested reads
  // true.
  static absl::StatusOr<std::unique_ptr<Engine>> Load(const EngineOptions& options,
                                                      const LoadProgressCallback& progress);
  // Cancels what is still running, reports it to its sinks, and stops the engine thread.
  ~Engine();

  const ModelInfo& model_info() const { return model_->info(); }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::string& path() const { return options_.path; }
  std::string device() const { return model_->device(); }
  int64_t kv_cache_capacity_tokens() const { return kv_pool_->capacity_tokens(); }
  // Capacity not reserved by a sequence; back to kv_cache_capacity_tokens() once every sequence
  // has finished or been released.
  int64_t kv_cache_free_tokens() const { return kv_pool_->free_tokens(); }
  // Whether the model file has a chat template, so prompts may be chat messages.
  bool has_chat_template() const { return chat_template_.has_value(); }
  bool shares_prompt_prefixes() const { return kv_pool_->shares_prefixes(); }
  // Positions of shared prompt prefixes that no sequence holds now, kept for later ones.
  int64_t kv_cache_idle_prefix_tokens() const { return kv_pool_->idle_filed_tokens(); }
  EngineCounters counters() const;

  // Validates the request, tokenizes the prompt and takes its KV cache, reserving the prompt and
  // the position after it, if the pool has room and no run waits for it; otherwise the
  // sequence's run waits for room (higher priority first, then in arrival order). No compute
  // yet. Errors: INVALID_ARGUMENT naming the field (empty prompt, token id out of range,
  // a chat the template refuses, bad sampling value, CONTEXT_LENGTH_EXCEEDED, EXCEEDS_KV_CACHE
  // when the whole pool could never hold it), FAILED_PRECONDITION (NO_CHAT_TEMPLATE) for chat
  // messages to a model without a chat template.
  absl::StatusOr<std::shared_ptr<Sequence>> CreateSequence(GenerationRequest request);

  // Queues steps of `sequence` on the engine thread; `sink` must stay valid until its
  // OnRunDone. A sequence without its KV cache first waits for room in the pool, behind those
  // served before it (higher priority, then earlier). A running sequence that needs a block
  // when none is left either takes the cache of the run served last or, if that is itself,
  // gives its own up; a preempted run waits for room again, then recomputes its context and
  // goes on with the tokens it would have produced. FAILED_PRECONDITION (SESSION_BUSY /
  // SESSION_FINISHED) if the sequence is already running or has finished; INVALID_ARGUMENT for bad
  // append_tokens; RESOURCE_EXHAUSTED (QUEUE_FULL, with a retry delay) when max_waiting_runs runs
  // wait already. On error nothing is queued and the sink is not called.
  absl::Status Run(std::shared_ptr<Sequence> sequence, RunOptions options, GenerationSink* sink);

  // Tells the engine thread that a sink became ready for more.
  void Wake();

  // Finishes `sequence` with FinishReason::kCancelled at its next step, even if its run is
  // waiting on flow control. Thread-safe; a sequence that is not running finishes at its next run.
  void Cancel(Sequence& sequence);

 private:
  struct Job {
    std::shared_ptr<Sequence> sequence;
    int32_t steps_left;  // < 0: until finished
    GenerationSink* sink;
    uint64_t arrival;      // the order of the runs' Run calls
    bool waiting = false;  // for its KV cache (guarded by mutex_)
    bool done = false;     // guarded by mutex_
  };

  Engine(EngineOptions options, std::unique_ptr<gguf::GgufFile> file,
         std::unique_ptr<Tokenizer> tokenizer, std::vector<int32_t> end_of_generation_ids,
         std::unique_ptr<Model> model, std::optional<ChatTemplate> chat_template,
         std::unique_ptr<KvCachePool> kv_pool);
  // The prompt tokens of a chat: rendered with the chat template, special tokens recognised.
  absl::StatusOr<std::vector<int32_t>> TokenizeChat(std::vector<ChatMessage> messages) const;
  using JobIterator = std::list<Job>::iterator;
  void Loop();
  struct Step {
    std::vector<JobIterator> stepped;  // which go to the back of the queue
    absl::Duration forward;            // of the pass, if one ran
  };
  // One step of the model over the ready jobs (iteration-level batching): cancelled sequences
  // finish without the model; the others share one pass within options_.max_batch_tokens, during
  // which the sinks hear of the step before. The pass is counted before any sink hears of its
  // results; the scheduling around it is left to the loop.
  Step StepReadyJobs(const std::vector<JobIterator>& ready);
  // What a sink is still to hear of a step: its output, then, where the step ended the run, the
  // run's end.
  struct Delivery {
    GenerationSink* sink;
    std::optional<StepOutput> output;
    std::optional<absl::Status> run_done;
  };
  // Settles a step's result for the job: ends the run (job.done) when the sequence finished, the
  // run's steps are used up, or `output` is an error; the sink hears of it from the next
  // HandOut (undelivered_), so that it may hear while the next pass computes.
  void Deliver(Job& job, absl::StatusOr<StepOutput> output);
  // Tells the sinks, in the order settled, and empties `deliveries`.
  static void HandOut(std::vector<Delivery>& deliveries);
  // Whether the engine thread has something to do for `job`: finish it as cancelled, or step it
  // (it has its KV cache and its sink takes more).
  static bool JobReady(const Job& job);
  bool AnyJobReady() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Whether `a` comes before `b` for room in the KV cache: higher priority, then earlier.
  static bool ServedBefore(const Job& a, const Job& b);
  // A KV cache for `sequence`'s context, reserving what its next step needs.
  absl::StatusOr<std::unique_ptr<KvCache>> AllocateKvCache(const Sequence& sequence);
  // Gives waiting sequences their KV caches, in ServedBefore order, while the pool has room.
  void AdmitWaitingJobs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Takes the KV blocks `job`'s sequence needs to hold `positions`. While the pool has none
  // left it preempts the run served last (ServedBefore) among those holding a cache, other
  // than those of `batch` (this step's, served first); returns false if that is `job` itself.
  bool MakeRoom(Job& job, int64_t positions, std::span<const JobIterator> batch)
      ABSL_LOCKS_EXCLUDED(mutex_);

  const EngineOptions options_;
  std::unique_ptr<gguf::GgufFile> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  // Held here, not on the Tokenizer: which ids end a generation is a generation setting
  // (generation_config.json, llama.cpp's EOT and EOM), which a tokenizer read from
  // tokenizer.json alone cannot know. Every sequence views it.
  const std::vector<int32_t> end_of_generation_ids_;
  std::unique_ptr<Model> model_;
  std::optional<ChatTemplate> chat_template_;
  std::unique_ptr<KvCachePool> kv_pool_;

  absl::Mutex mutex_;
  // A list, so the engine thread can step jobs outside the lock while Run appends.
  std::list<Job> jobs_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  int64_t waiting_runs_ ABSL_GUARDED_BY(mutex_) = 0;  // jobs waiting for their KV cache
  // How many waited when the engine thread last went to sleep: one more wakes it.
  int64_t runs_left_waiting_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t next_arrival_ ABSL_GUARDED_BY(mutex_) = 0;
  // Settled results whose sinks have not heard of them (engine thread only; the destructor's
  // once the thread has stopped). Never left so while the thread sleeps.
  std::vector<Delivery> undelivered_;
  mutable absl::Mutex counters_mutex_;
  EngineCounters counters_ ABSL_GUARDED_BY(counters_mutex_);
  std::thread thread_;
};

}  // namespace tessera
