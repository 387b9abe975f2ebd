#include "core/engine/engine.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/engine/device_choice.h"
#include "core/engine/end_of_generation.h"
#include "core/engine/sequence.h"
#include "core/models/cuda_backend.h"
#include "core/models/hf_directory.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

// Reads every page of the weights once, so a load's progress reflects real reads and the
// first request does not pay for page faults.
absl::Status ReadWeights(const gguf::GgufFile& file, const LoadProgressCallback& progress,
                         const std::atomic<bool>* cancel_requested) {
  int64_t total = 0;
  for (const gguf::TensorInfo& tensor : file.tensors()) total += static_cast<int64_t>(tensor.bytes);
  constexpr size_t kPage = 4096;
  constexpr int64_t kReportEvery = int64_t{64} << 20;
  int64_t read = 0;
  int64_t next_report = kReportEvery;
  volatile uint8_t sink = 0;
  progress(LoadStage::kReadingWeights, 0, total);
  for (const gguf::TensorInfo& tensor : file.tensors()) {
    if (cancel_requested != nullptr && cancel_requested->load()) {
      return absl::CancelledError(absl::StrCat(file.path(), ": the load was cancelled"));
    }
    const auto* bytes = static_cast<const uint8_t*>(tensor.data);
    for (size_t offset = 0; offset < tensor.bytes; offset += kPage) sink = sink + bytes[offset];
    read += static_cast<int64_t>(tensor.bytes);
    if (read >= next_report) {
      progress(LoadStage::kReadingWeights, read, total);
      next_report = read + kReportEvery;
    }
  }
  progress(LoadStage::kReadingWeights, total, total);
  return absl::OkStatus();
}

absl::Status ValidateStopCriteria(const StopCriteria& stop, int32_t vocab_size) {
  if (stop.max_tokens < 0) {
    return InvalidField("stop.max_tokens", absl::StrCat("must be >= 0, got ", stop.max_tokens));
  }
  for (int32_t id : stop.stop_token_ids) {
    if (id < 0 || id >= vocab_size) {
      return InvalidField("stop.stop_token_ids",
                          absl::StrCat("token id ", id, " is outside the vocabulary [0, ",
                                       vocab_size, ")"));
    }
  }
  for (const std::string& stop_string : stop.stop_strings) {
    if (stop_string.empty()) return InvalidField("stop.stop_strings", "must not be empty strings");
  }
  return absl::OkStatus();
}

// The file's tokenizer.chat_template, parsed; none when the file has no chat template.
absl::StatusOr<std::optional<ChatTemplate>> ChatTemplateFromGguf(const gguf::GgufFile& file) {
  constexpr char kKey[] = "tokenizer.chat_template";
  if (file.Find(kKey) == nullptr) return std::nullopt;
  TESSERA_ASSIGN_OR_RETURN(std::string_view source, file.GetString(kKey));
  absl::StatusOr<ChatTemplate> parsed = ChatTemplate::Parse(source);
  if (!parsed.ok()) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(file.path(), ": ", kKey,
                                                              " does not parse: ",
                                                              parsed.status().message())),
                      reason::kInvalidModelFile);
  }
  return *std::move(parsed);
}

// A Hugging Face directory is converted in memory to the GGUF model it corresponds to, so
// everything after this reads one kind of file.
absl::StatusOr<std::unique_ptr<gguf::GgufFile>> OpenModelFile(const std::string& path) {
  if (IsHfDirectory(path)) return OpenHfDirectory(path, /*require_tokenizer=*/true);
  return gguf::GgufFile::Open(path);
}

std::string TokenTextOrEmpty(const Tokenizer& tokenizer, std::optional<int32_t> id) {
  return id ? std::string(tokenizer.TokenText(*id)) : std::string();
}

// How often runs waiting for room in the KV cache try again while nothing else wakes the engine.
constexpr absl::Duration kAdmissionRetry = absl::Milliseconds(5);

// The tokens of the model's KV-cache pool: as many as asked, or as fill the share asked of the
// memory its device has free once the weights are in; by default kDefaultFullContextSequences
// full contexts within kDefaultKvMemoryFraction of it (a long-context model's eight contexts may
// not fit).
int64_t KvCacheCapacityTokens(const EngineOptions& options, const ModelInfo& info,
                              const KvMemory& memory) {
  if (options.kv_cache_capacity_tokens > 0) return options.kv_cache_capacity_tokens;
  const auto fitting = [&](double fraction) {
    return std::max<int64_t>(
        kKvBlockTokens, static_cast<int64_t>(fraction * static_cast<double>(memory.FreeBytes())) /
                            info.kv_shape.bytes_per_token());
  };
  if (options.kv_cache_memory_fraction > 0) return fitting(options.kv_cache_memory_fraction);
  return std::max<int64_t>(kKvBlockTokens,
                           std::min(kDefaultFullContextSequences * info.context_length,
                                    fitting(kDefaultKvMemoryFraction)));
}

// Blocks are shared only where a sequence's keys and values depend on its tokens alone.
KvSharing KvSharingFor(const EngineOptions& options, const ModelInfo& info) {
  if (!info.prefix_determines_kv) return KvSharing::kNone;
  return options.share_prompt_prefixes ? KvSharing::kForksAndPrefixes : KvSharing::kForks;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Load(const EngineOptions& options,
                                                     const LoadProgressCallback& progress) {
  TESSERA_ASSIGN_OR_RETURN(const DeviceChoice device,
                           ChooseDevice(options.device, CudaDeviceCount()));
  if (options.kv_cache_capacity_tokens < 0) {
    return InvalidField("kv_cache_capacity_tokens", "must be >= 0");
  }
  // Written so that NaN fails too.
  if (!(options.kv_cache_memory_fraction >= 0 && options.kv_cache_memory_fraction <= 1)) {
    return InvalidField("kv_cache_memory_fraction",
                        absl::StrCat("must be in (0, 1], or 0 for the default; got ",
                                     options.kv_cache_memory_fraction));
  }
  if (options.kv_cache_capacity_tokens > 0 && options.kv_cache_memory_fraction > 0) {
    return InvalidField("kv_cache_memory_fraction",
                        "give the KV cache's size in tokens (kv_cache_capacity_tokens) or as a "
                        "fraction of free memory, not both");
  }
  if (options.max_batch_tokens <= 0) return InvalidField("max_batch_tokens", "must be > 0");
  progress(LoadStage::kOpeningFile, 0, 0);
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> file, OpenModelFile(options.path));
  TESSERA_RETURN_IF_ERROR(ReadWeights(*file, progress, options.cancel_requested));
  progress(LoadStage::kBuildingModel, 0, 0);
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, TokenizerFromGguf(*file));
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, BuildModelFromGguf(*file));
  TESSERA_ASSIGN_OR_RETURN(std::optional<ChatTemplate> chat_template, ChatTemplateFromGguf(*file));
  if (tokenizer->vocab_size() != model->info().vocab_size) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          options.path, ": the tokenizer has ", tokenizer->vocab_size(),
                          " tokens but the embedding table has ", model->info().vocab_size,
                          " rows")),
                      reason::kInvalidModelFile);
  }
  TESSERA_ASSIGN_OR_RETURN(std::vector<int32_t> end_of_generation_ids,
                           EndOfGenerationIds(*file, tokenizer->vocab_size()));
  if (device.cuda) {
    // The weights are read from the mapped file once more, on their way to the device.
    progress(LoadStage::kUploadingWeights, 0, 0);
    TESSERA_ASSIGN_OR_RETURN(model, UploadToCuda(*model, device.cuda_device,
                                                 [&](int64_t uploaded, int64_t total) {
                                                   progress(LoadStage::kUploadingWeights,
                                                            uploaded, total);
                                                 }));
  }
  TESSERA_ASSIGN_OR_RETURN(
      std::unique_ptr<KvCachePool> kv_pool,
      KvCachePool::Create(model->info().kv_shape,
                          KvCacheCapacityTokens(options, model->info(), model->kv_memory()),
                          model->kv_memory(), KvSharingFor(options, model->info())));
  return std::unique_ptr<Engine>(new Engine(options, std::move(file), std::move(tokenizer),
                                            std::move(end_of_generation_ids), std::move(model),
                                            std::move(chat_template), std::move(kv_pool)));
}

Engine::Engine(EngineOptions options, std::unique_ptr<gguf::GgufFile> file,
               std::unique_ptr<Tokenizer> tokenizer, std::vector<int32_t> end_of_generation_ids,
               std::unique_ptr<Model> model, std::optional<ChatTemplate> chat_template,
               std::unique_ptr<KvCachePool> kv_pool)
    : options_(std::move(options)),
      file_(std::move(file)),
      tokenizer_(std::move(tokenizer)),
      end_of_generation_ids_(std::move(end_of_generation_ids)),
      model_(std::move(model)),
      chat_template_(std::move(chat_template)),
      kv_pool_(std::move(kv_pool)) {
  thread_ = std::thread([this] { Loop(); });
}

Engine::~Engine() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
  // Whatever is left ends as cancelled, so every sink hears the end of its run.
  for (Job& job : jobs_) {
    if (!job.done) Deliver(job, job.sequence->FinishCancelled());
  }
  HandOut(undelivered_);
}

absl::StatusOr<std::shared_ptr<Sequence>> Engine::CreateSequence(GenerationRequest request) {
  const ModelInfo& info = model_->info();
  std::vector<int32_t> prompt;
  bool output_starts_text = false;
  if (const auto* text = std::get_if<std::string>(&request.prompt)) {
    if (text->empty()) return InvalidField("prompt.text", "must not be empty");
    if (tokenizer_->add_bos() && tokenizer_->bos_id()) prompt.push_back(*tokenizer_->bos_id());
    const std::vector<int32_t> encoded = tokenizer_->Encode(*text);
    prompt.insert(prompt.end(), encoded.begin(), encoded.end());
  } else if (auto* messages = std::get_if<std::vector<ChatMessage>>(&request.prompt)) {
    TESSERA_ASSIGN_OR_RETURN(prompt, TokenizeChat(std::move(*messages)));
  } else {
    prompt = std::get<std::vector<int32_t>>(std::move(request.prompt));
    if (prompt.empty()) return InvalidField("prompt.token_ids", "must not be empty");
    for (size_t i = 0; i < prompt.size(); ++i) {
      if (prompt[i] < 0 || prompt[i] >= info.vocab_size) {
        return InvalidField("prompt.token_ids",
                            absl::StrCat("token id ", prompt[i], " at index ", i,
                                         " is outside the vocabulary [0, ", info.vocab_size, ")"));
      }
    }
    output_starts_text = prompt.size() == 1 && prompt[0] == tokenizer_->bos_id();
  }
  TESSERA_RETURN_IF_ERROR(ValidateSamplingParams(request.sampling, info.vocab_size));
  TESSERA_RETURN_IF_ERROR(ValidateStopCriteria(request.stop, info.vocab_size));

  const int64_t prompt_tokens = static_cast<int64_t>(prompt.size());
  if (prompt_tokens >= info.context_length) {
    return InvalidField("prompt",
                        absl::StrCat("the prompt has ", prompt_tokens,
                                     " tokens; the context length is ", info.context_length,
                                     " and at least one must be left to generate"),
                        reason::kContextLengthExceeded);
  }
  const int64_t max_tokens = request.stop.max_tokens;
  if (prompt_tokens + max_tokens > info.context_length) {
    return InvalidField("stop.max_tokens",
                        absl::StrCat("the prompt (", prompt_tokens, " tokens) plus max_tokens (",
                                     max_tokens, ") exceeds the context length ",
                                     info.context_length),
                        reason::kContextLengthExceeded);
  }
  // Room for everything the sequence can hold: the prompt and every token it may generate.
  // Without max_tokens, up to the context length or the whole KV cache, whichever is less.
  const int64_t capacity =
      max_tokens > 0 ? prompt_tokens + max_tokens
                     : std::min<int64_t>(info.context_length, kv_pool_->capacity_tokens());
  if (!kv_pool_->CanEverHold(capacity) || prompt_tokens >= capacity) {
    return InvalidField(
        "stop.max_tokens",
        absl::StrCat(
            "the prompt (", prompt_tokens, " tokens) and max_tokens (",
            max_tokens > 0 ? absl::StrCat(max_tokens) : absl::StrCat("0: at least one token"),
            ") need ", std::max(capacity, prompt_tokens + 1),
            " tokens of KV cache; the model's holds ", kv_pool_->capacity_tokens(), " in all"),
        reason::kExceedsKvCache);
  }
  auto sequence = std::make_shared<Sequence>(
      std::move(prompt), std::move(request.sampling), std::move(request.stop), capacity,
      request.priority, *tokenizer_, end_of_generation_ids_, output_starts_text);
  absl::MutexLock lock(&mutex_);
  // Straight in when nobody waits and there is room; otherwise its run waits its turn.
  if (waiting_runs_ == 0) {
    absl::StatusOr<std::unique_ptr<KvCache>> cache = AllocateKvCache(*sequence);
    if (cache.ok()) sequence->AttachKvCache(*std::move(cache));
  }
  return sequence;
}

absl::StatusOr<std::unique_ptr<KvCache>> Engine::AllocateKvCache(const Sequence& sequence) {
  // Its context and the position of the token its next step feeds: enough for its next step.
  // Later positions take blocks nobody reserved; when none is left, MakeRoom preempts runs.
  const int64_t context = static_cast<int64_t>(sequence.context().size());
  return kv_pool_->Allocate(sequence.kv_capacity(), sequence.context(),
                            std::min(sequence.kv_capacity(), context + 1));
}

absl::StatusOr<std::vector<int32_t>> Engine::TokenizeChat(
    std::vector<ChatMessage> messages) const {
  if (messages.empty()) return InvalidField("prompt.chat.messages", "must not be empty");
  if (!chat_template_) {
    return WithReason(absl::FailedPreconditionError(absl::StrCat(
                          options_.path, " has no chat template (tokenizer.chat_template); "
                                         "give the prompt as text or token ids")),
                      reason::kNoChatTemplate);
  }
  ChatTemplateInputs inputs;
  inputs.messages = std::move(messages);
  inputs.add_generation_prompt = true;
  inputs.bos_token = TokenTextOrEmpty(*tokenizer_, tokenizer_->bos_id());
  inputs.eos_token = TokenTextOrEmpty(*tokenizer_, tokenizer_->eos_id());
  absl::StatusOr<std::string> text = chat_template_->Render(inputs);
  if (!text.ok()) return InvalidField("prompt.chat", text.status().message());
  // The template writes BOS itself where the model wants one.
  std::vector<int32_t> prompt = tokenizer_->EncodeWithSpecialTokens(*text);
  if (prompt.empty()) return InvalidField("prompt.chat", "the chat template rendered no text");
  return prompt;
}

absl::Status Engine::Run(std::shared_ptr<Sequence> sequence, RunOptions options,
                         GenerationSink* sink) {
  absl::MutexLock lock(&mutex_);
  if (stopping_) return absl::UnavailableError("the model is being unloaded");
  for (const Job& job : jobs_) {
    if (job.sequence == sequence && !job.done) {
      return WithReason(absl::FailedPreconditionError(
                            "the session is already running a request; wait for it to finish"),
                        reason::kSessionBusy);
    }
  }
  if (sequence->finished()) {
    return WithReason(absl::FailedPreconditionError(absl::StrCat(
                          "the session has finished (", FinishReasonName(sequence->finish_reason()),
                          "); release it and start a new one")),
                      reason::kSessionFinished);
  }
  const bool waiting = !sequence->has_kv_cache();
  if (waiting && waiting_runs_ >= options_.max_waiting_runs) {
    return WithRetryDelay(
        WithReason(absl::ResourceExhaustedError(absl::StrCat(
                       options_.max_waiting_runs,
                       " requests already wait for room in the KV cache; retry later")),
                   reason::kQueueFull),
        kQueueFullRetryDelay);
  }
  TESSERA_RETURN_IF_ERROR(sequence->Append(options.append_tokens));
  jobs_.push_back(Job{.sequence = std::move(sequence),
                      .steps_left = options.max_steps > 0 ? options.max_steps : -1,
                      .sink = sink,
                      .arrival = next_arrival_++,
                      .waiting = waiting});
  if (waiting) ++waiting_runs_;
  return absl::OkStatus();
}

void Engine::Wake() {
  // Releasing the mutex makes the engine thread re-check which jobs are ready.
  absl::MutexLock lock(&mutex_);
}

void Engine::Cancel(Sequence& sequence) {
  sequence.Cancel();
  Wake();
}

bool Engine::JobReady(const Job& job) {
  return job.sequence->cancel_requested() ||
         (job.sequence->has_kv_cache() && job.sink->ReadyForMore());
}

bool Engine::AnyJobReady() const { return std::any_of(jobs_.begin(), jobs_.end(), JobReady); }

bool Engine::ServedBefore(const Job& a, const Job& b) {
  const Priority a_priority = a.sequence->priority();
  const Priority b_priority = b.sequence->priority();
  if (a_priority != b_priority) return a_priority > b_priority;
  return a.arrival < b.arrival;
}

void Engine::AdmitWaitingJobs() {
  if (waiting_runs_ == 0) return;
  std::vector<Job*> waiting;
  for (Job& job : jobs_) {
    if (job.waiting && !job.sequence->cancel_requested()) waiting.push_back(&job);
  }
  std::sort(waiting.begin(), waiting.end(),
            [](const Job* a, const Job* b) { return ServedBefore(*a, *b); });
  for (Job* job : waiting) {
    absl::StatusOr<std::unique_ptr<KvCache>> cache = AllocateKvCache(*job->sequence);
    // The first that does not fit holds the others back, so that large requests are not
    // starved by small ones.
    if (!cache.ok()) return;
    job->sequence->AttachKvCache(*std::move(cache));
    job->waiting = false;
    --waiting_runs_;
  }
}

EngineCounters Engine::counters() const {
  absl::MutexLock lock(&counters_mutex_);
  return counters_;
}

void Engine::Loop() {
  for (;;) {
    const absl::Time start = absl::Now();
    absl::Duration waited;
    std::vector<JobIterator> ready;
    {
      absl::MutexLock lock(&mutex_);
      AdmitWaitingJobs();
      runs_left_waiting_ = waiting_runs_;
      // Room in the pool may come from another thread (a released session), which does not
      // wake this one: while runs wait, look again every kAdmissionRetry.
      const absl::Time wait_start = absl::Now();
      mutex_.AwaitWithTimeout(absl::Condition(
                                  +[](Engine* engine) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                    return engine->stopping_ || engine->AnyJobReady() ||
                                           engine->waiting_runs_ > engine->runs_left_waiting_;
                                  },
                                  this),
                              waiting_runs_ > 0 ? kAdmissionRetry : absl::InfiniteDuration());
      waited = absl::Now() - wait_start;
      if (stopping_) return;
      // A run that came to wait is admitted (or left waiting) first.
      if (!AnyJobReady()) continue;
      for (auto job = jobs_.begin(); job != jobs_.end(); ++job) {
        if (JobReady(*job)) ready.push_back(job);
      }
    }
    Step step = StepReadyJobs(ready);
    bool more_ready;
    {
      absl::MutexLock lock(&mutex_);
      // Those left out of this step (the token budget ran out) come first in the next.
      for (const JobIterator& job : step.stepped) jobs_.splice(jobs_.end(), jobs_, job);
      jobs_.remove_if([](const Job& job) { return job.done; });
      more_ready = AnyJobReady();
    }
    // Otherwise the next step's pass hands them out while it computes. Only this thread makes a
    // ready job unready, so the next step comes.
    if (!more_ready) HandOut(undelivered_);
    absl::MutexLock lock(&counters_mutex_);
    counters_.scheduling += absl::Now() - start - waited - step.forward;
  }
}

Engine::Step Engine::StepReadyJobs(const std::vector<JobIterator>& ready) {
  Step step;
  std::vector<Delivery> earlier = std::exchange(undelivered_, {});
  std::vector<JobIterator>& stepped = step.stepped;
  std::vector<JobIterator> running;
  for (const JobIterator& job : ready) {
    if (job->sequence->cancel_requested()) {
      Deliver(*job, job->sequence->FinishCancelled());
      stepped.push_back(job);
    } else {
      running.push_back(job);
    }
  }
  // Decoding sequences (one unseen token) first, higher priorities first, otherwise in queue
  // order; then prompts (and appended tokens) in chunks of the budget that is left, higher
  // priorities first, otherwise first come first served. A prompt begun is thus finished before
  // the next begins: prompts taken in queue order, which turns to the back each one stepped, all
  // finished in the same step and started decoding together, and a closed loop's streams kept
  // arriving, and waiting, together.
  std::stable_sort(running.begin(), running.end(), [](const JobIterator& a, const JobIterator& b) {
    const bool a_decodes = a->sequence->unseen_tokens().size() == 1;
    const bool b_decodes = b->sequence->unseen_tokens().size() == 1;
    if (a_decodes != b_decodes) return a_decodes;
    if (a_decodes) return a->sequence->priority() > b->sequence->priority();
    return ServedBefore(*a, *b);
  });
  std::vector<JobIterator> batch;
  std::vector<SequenceChunk> chunks;
  std::vector<std::optional<Sampler::ChoiceInputs>> inputs;  // none: the chunk ends mid-prompt
  int64_t budget = options_.max_batch_tokens;
  for (const JobIterator& job : running) {
    if (budget == 0) break;
    Sequence& sequence = *job->sequence;
    if (!sequence.has_kv_cache()) continue;  // preempted for a run before it
    const std::span<const int32_t> unseen = sequence.unseen_tokens();
    const size_t take = std::min<size_t>(unseen.size(), budget);
    if (!MakeRoom(*job, sequence.cache().length() + static_cast<int64_t>(take), batch)) continue;
    budget -= static_cast<int64_t>(take);
    batch.push_back(job);
    chunks.push_back({unseen.first(take), &sequence.cache()});
    inputs.push_back(take == unseen.size() ? std::make_optional(sequence.NextChoiceInputs())
                                           : std::nullopt);
  }
  if (batch.empty()) {
    HandOut(earlier);
    return step;
  }
  // A chunk that ends mid-prompt chooses greedily, touching no sampler state; its choice is
  // dropped.
  std::vector<ChoiceSpec> choices(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!inputs[i]) continue;
    choices[i] = {inputs[i]->adjustments, inputs[i]->draw_or_null(), inputs[i]->n_top};
  }
  const absl::Time forward_start = absl::Now();
  const absl::StatusOr<std::vector<TokenChoice>> chosen =
      model_->ForwardBatchAndChoose(chunks, choices, [&] { HandOut(earlier); });
  step.forward = absl::Now() - forward_start;
  {
    absl::MutexLock lock(&counters_mutex_);
    ++counters_.steps;
    for (const SequenceChunk& chunk : chunks) {
      counters_.step_tokens += static_cast<int64_t>(chunk.tokens.size());
    }
    counters_.forward += step.forward;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Job& job = *batch[i];
    stepped.push_back(batch[i]);
    if (!chosen.ok()) {
      Deliver(job, WithReason(absl::InternalError(
                                  absl::StrCat("forward pass failed: ", chosen.status().message())),
                              reason::kForwardPassFailed));
    } else if (inputs[i]) {
      Deliver(job, job.sequence->AcceptChoice((*chosen)[i]));
    }
  }
  return step;
}

bool Engine::MakeRoom(Job& job, int64_t positions, std::span<const JobIterator> batch) {
  for (;;) {
    const absl::Status room = job.sequence->cache().AddBlocksFor(positions);
    // Another error recurs in the forward pass, which reports it.
    if (!absl::IsResourceExhausted(room)) return true;
    absl::MutexLock lock(&mutex_);
    // Never one this step already runs: those were served first.
    Job* victim = nullptr;
    for (Job& other : jobs_) {
      if (other.done || !other.sequence->has_kv_cache()) continue;
      if (std::any_of(batch.begin(), batch.end(),
                      [&](const JobIterator& in) { return &*in == &other; })) {
        continue;
      }
      if (victim == nullptr || ServedBefore(*victim, other)) victim = &other;
    }
    // `job` itself is a candidate, so there is always one.
    victim->sequence->Preempt();
    victim->waiting = true;
    ++waiting_runs_;
    if (victim == &job) return false;
  }
}

void Engine::Deliver(Job& job, absl::StatusOr<StepOutput> output) {
  const absl::Status status = output.status();
  Delivery& delivery = undelivered_.emplace_back(Delivery{.sink = job.sink});
  bool over = !output.ok();
  if (output.ok()) {
    over = output->finish_reason != FinishReason::kNone ||
           (job.steps_left > 0 && --job.steps_left == 0);
    delivery.output = *std::move(output);
  }
  if (!over) return;
  delivery.run_done = status;
  // Marked before the sink hears of it, so a Run that follows at once is not refused as busy.
  absl::MutexLock lock(&mutex_);
  job.done = true;
  if (job.waiting) {
    job.waiting = false;
    --waiting_runs_;
  }
}

void Engine::HandOut(std::vector<Delivery>& deliveries) {
  for (Delivery& delivery : deliveries) {
    if (delivery.output) delivery.sink->OnStep(*std::move(delivery.output));
    if (delivery.run_done) delivery.sink->OnRunDone(*std::move(delivery.run_done));
  }
  deliveries.clear();
}

}  // namespace tessera
