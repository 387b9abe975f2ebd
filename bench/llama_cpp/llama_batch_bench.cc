// llama_batch_bench: what llama-server does with N parallel slots, without HTTP clients.
//
// One llama_context holds N sequences. Each round clears the KV cache, prefills N random prompts
// of P tokens (in batches of at most n_batch tokens, logits only for each sequence's last prompt
// token), then runs G decode steps, each one llama_decode with one token per sequence. The token
// fed is the host-side argmax of that sequence's latest logits, as the server's greedy sampler
// picks it.
//
//   llama_batch_bench --model M.gguf --parallel N --prompt_tokens P --output_tokens G
//                     [--rounds 2] [--gpu_layers 999] [--n_batch 2048] [--n_ubatch 512]
//                     [--flash_attn on|off] [--kv_unified on|off] [--threads 4] [--verbose]
//
// Round 1 warms up; the mean is over rounds 2..R. Each result line is followed by one without
// the time the host spent on the argmax.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "llama.h"

namespace {

struct Options {
  std::string model;
  int parallel = 1;
  int prompt_tokens = 512;
  int output_tokens = 128;
  int rounds = 2;
  int gpu_layers = 999;
  int n_batch = 2048;
  int n_ubatch = 512;
  bool flash_attn = true;
  bool kv_unified = false;  // llama-server's default when --parallel is given
  int threads = 4;
  bool verbose = false;  // pass llama.cpp's info and debug log through, not only its warnings
};

[[noreturn]] void Usage(const std::string& error) {
  fprintf(stderr, "error: %s\n", error.c_str());
  fprintf(stderr,
          "usage: llama_batch_bench --model PATH [--parallel N] [--prompt_tokens P] "
          "[--output_tokens G]\n"
          "       [--rounds R] [--gpu_layers L] [--n_batch B] [--n_ubatch U] "
          "[--flash_attn on|off]\n"
          "       [--kv_unified on|off] [--threads T] [--verbose]\n");
  exit(2);
}

bool ParseBool(const std::string& value) {
  if (value == "on" || value == "1" || value == "true") return true;
  if (value == "off" || value == "0" || value == "false") return false;
  Usage("bad boolean: " + value);
}

int ParseInt(const std::string& value) {
  char* end = nullptr;
  errno = 0;
  const long parsed = strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno == ERANGE || parsed < INT_MIN || parsed > INT_MAX) {
    Usage("bad integer: " + value);
  }
  return static_cast<int>(parsed);
}

// Accepts "--flag value" and "--flag=value".
Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    const size_t eq = flag.find('=');
    if (eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "--verbose") {
      o.verbose = true;
      continue;
    }
    if (eq == std::string::npos) {
      if (i + 1 >= argc) Usage("missing value for " + flag);
      value = argv[++i];
    }
    if (flag == "--model") {
      o.model = value;
    } else if (flag == "--parallel") {
      o.parallel = ParseInt(value);
    } else if (flag == "--prompt_tokens") {
      o.prompt_tokens = ParseInt(value);
    } else if (flag == "--output_tokens") {
      o.output_tokens = ParseInt(value);
    } else if (flag == "--rounds") {
      o.rounds = ParseInt(value);
    } else if (flag == "--gpu_layers") {
      o.gpu_layers = ParseInt(value);
    } else if (flag == "--n_batch") {
      o.n_batch = ParseInt(value);
    } else if (flag == "--n_ubatch") {
      o.n_ubatch = ParseInt(value);
    } else if (flag == "--flash_attn") {
      o.flash_attn = ParseBool(value);
    } else if (flag == "--kv_unified") {
      o.kv_unified = ParseBool(value);
    } else if (flag == "--threads") {
      o.threads = ParseInt(value);
    } else {
      Usage("unknown flag " + flag);
    }
  }
  if (o.model.empty()) Usage("--model is required");
  if (o.parallel < 1 || o.parallel > 256) Usage("--parallel must be in [1, 256]");
  if (o.prompt_tokens < 1 || o.output_tokens < 1 || o.rounds < 1) {
    Usage("token counts and rounds must be >= 1");
  }
  // One decode step is one batch of one token per sequence.
  if (o.n_batch < o.parallel) Usage("--n_batch must be >= --parallel");
  if (o.n_ubatch < 1) Usage("--n_ubatch must be >= 1");  // llama.cpp caps it at n_batch
  return o;
}

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Times of one round; the *_argmax_ms are the host argmax's share of prefill_ms and decode_ms.
struct RoundTimes {
  double prefill_ms = 0;
  double decode_ms = 0;
  double prefill_argmax_ms = 0;
  double decode_argmax_ms = 0;
};

class Bench {
 public:
  Bench(llama_context* ctx, const Options& options, int n_vocab)
      : ctx_(ctx),
        options_(options),
        n_vocab_(n_vocab),
        n_batch_(static_cast<int>(llama_n_batch(ctx))),
        batch_(llama_batch_init(n_batch_, /*embd=*/0, /*n_seq_max=*/1)),
        prompts_(options.parallel, std::vector<llama_token>(options.prompt_tokens)),
        next_token_(options.parallel) {
    // A fixed seed, so that every run and every round prefills the same prompts.
    std::mt19937 rng(1234);
    std::uniform_int_distribution<llama_token> random_token(0, n_vocab - 1);
    for (std::vector<llama_token>& prompt : prompts_) {
      for (llama_token& token : prompt) token = random_token(rng);
    }
  }
  ~Bench() { llama_batch_free(batch_); }
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;

  // Runs one round; nullopt if llama.cpp failed (the error is printed).
  std::optional<RoundTimes> RunRound() {
    RoundTimes times;
    llama_memory_clear(llama_get_memory(ctx_), /*data=*/true);
    llama_synchronize(ctx_);

    // Prefill: the prompts back to back, split into batches of n_batch tokens. Logits only last
    // until the next llama_decode, so each batch's finished prompts are sampled right after it,
    // as the server does.
    const Clock::time_point prefill_start = Clock::now();
    for (int seq = 0; seq < options_.parallel; ++seq) {
      for (int pos = 0; pos < options_.prompt_tokens; ++pos) {
        Add(prompts_[seq][pos], pos, seq, /*sample=*/pos == options_.prompt_tokens - 1);
        if (batch_.n_tokens == n_batch_ && !DecodeAndSample(&times.prefill_argmax_ms)) {
          return std::nullopt;
        }
      }
    }
    if (batch_.n_tokens > 0 && !DecodeAndSample(&times.prefill_argmax_ms)) return std::nullopt;
    times.prefill_ms = MillisecondsSince(prefill_start);

    // Decode: G steps of one token per sequence.
    const Clock::time_point decode_start = Clock::now();
    for (int step = 0; step < options_.output_tokens; ++step) {
      for (int seq = 0; seq < options_.parallel; ++seq) {
        Add(next_token_[seq], options_.prompt_tokens + step, seq, /*sample=*/true);
      }
      if (!DecodeAndSample(&times.decode_argmax_ms)) return std::nullopt;
    }
    times.decode_ms = MillisecondsSince(decode_start);
    return times;
  }

 private:
  // Appends a token to batch_; with `sample`, its logits choose the sequence's next token. The
  // callers never add more than n_batch_ tokens: prefill decodes a full batch at once, and one
  // decode step adds `parallel` <= n_batch_ tokens.
  void Add(llama_token token, llama_pos pos, llama_seq_id seq, bool sample) {
    const int i = batch_.n_tokens++;
    batch_.token[i] = token;
    batch_.pos[i] = pos;
    batch_.n_seq_id[i] = 1;
    batch_.seq_id[i][0] = seq;
    batch_.logits[i] = sample;
    if (sample) to_sample_.push_back({seq, i});
  }

  // Decodes batch_, waits for the device, then sets next_token_ to the argmax of each logits row
  // asked for, and empties batch_. Adds the host argmax time to *argmax_ms.
  bool DecodeAndSample(double* argmax_ms) {
    const int rc = llama_decode(ctx_, batch_);
    if (rc != 0) {
      fprintf(stderr, "error: llama_decode failed: %d\n", rc);
      return false;
    }
    llama_synchronize(ctx_);

    const Clock::time_point argmax_start = Clock::now();
    for (const auto& [seq, batch_index] : to_sample_) {
      const float* logits = llama_get_logits_ith(ctx_, batch_index);
      if (logits == nullptr) {
        fprintf(stderr, "error: no logits for batch index %d\n", batch_index);
        return false;
      }
      next_token_[seq] =
          static_cast<llama_token>(std::max_element(logits, logits + n_vocab_) - logits);
    }
    *argmax_ms += MillisecondsSince(argmax_start);

    batch_.n_tokens = 0;
    to_sample_.clear();
    return true;
  }

  llama_context* const ctx_;
  const Options options_;
  const int n_vocab_;
  const int n_batch_;  // llama.cpp caps n_batch at n_ctx
  llama_batch batch_;
  std::vector<std::vector<llama_token>> prompts_;
  std::vector<llama_token> next_token_;         // per sequence
  std::vector<std::pair<int, int>> to_sample_;  // (sequence, index in batch_)
};

// Prints the times as measured, then on a second line without the host argmax.
void PrintTimes(const char* label, const RoundTimes& t, const Options& o) {
  const double out_tokens = static_cast<double>(o.parallel) * o.output_tokens;
  const double prefill = t.prefill_ms;
  const double decode = t.decode_ms;
  const double prefill_without_argmax = prefill - t.prefill_argmax_ms;
  const double decode_without_argmax = decode - t.decode_argmax_ms;
  printf("%-18s prefill %9.2f ms  decode %9.2f ms  decode %9.1f tok/s  e2e %9.1f tok/s\n", label,
         prefill, decode, out_tokens / decode * 1e3, out_tokens / (prefill + decode) * 1e3);
  printf(
      "%-18s prefill %9.2f ms  decode %9.2f ms  decode %9.1f tok/s  e2e %9.1f tok/s"
      "  (host argmax excluded: %.2f + %.2f ms)\n",
      "", prefill_without_argmax, decode_without_argmax, out_tokens / decode_without_argmax * 1e3,
      out_tokens / (prefill_without_argmax + decode_without_argmax) * 1e3, t.prefill_argmax_ms,
      t.decode_argmax_ms);
}

// Keeps llama.cpp's warnings and errors; everything with --verbose.
void FilterLog(ggml_log_level level, const char* text, void* verbose) {
  if (*static_cast<const bool*>(verbose) || level == GGML_LOG_LEVEL_WARN ||
      level == GGML_LOG_LEVEL_ERROR) {
    fputs(text, stderr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered even into a pipe or file: each round's lines appear as it ends, in order with
  // llama.cpp's log on stderr, and stay if a later round fails.
  setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o = ParseArgs(argc, argv);
  llama_log_set(FilterLog, &o.verbose);
  llama_backend_init();

  llama_model_params model_params = llama_model_default_params();
  model_params.n_gpu_layers = o.gpu_layers;
  llama_model* model = llama_model_load_from_file(o.model.c_str(), model_params);
  if (model == nullptr) {
    fprintf(stderr, "error: failed to load model %s\n", o.model.c_str());
    return 1;
  }
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

  // One context, one KV stream per slot (like llama-server -np N), f16 K/V.
  llama_context_params ctx_params = llama_context_default_params();
  ctx_params.n_seq_max = o.parallel;
  // P+G cells per sequence, rounded up to the 256 llama.cpp pads each sequence's cache to.
  ctx_params.n_ctx =
      static_cast<uint32_t>(o.parallel) * ((o.prompt_tokens + o.output_tokens + 255) / 256 * 256);
  ctx_params.n_batch = o.n_batch;
  ctx_params.n_ubatch = o.n_ubatch;
  ctx_params.n_threads = o.threads;
  ctx_params.n_threads_batch = o.threads;
  ctx_params.flash_attn_type =
      o.flash_attn ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  ctx_params.type_k = GGML_TYPE_F16;
  ctx_params.type_v = GGML_TYPE_F16;
  ctx_params.kv_unified = o.kv_unified;
  ctx_params.no_perf = true;
  llama_context* ctx = llama_init_from_model(model, ctx_params);
  if (ctx == nullptr) {
    fprintf(stderr, "error: failed to create context\n");
    llama_model_free(model);
    return 1;
  }

  char desc[256];
  llama_model_desc(model, desc, sizeof(desc));
  printf("model %s (%s), n_vocab %d\n", o.model.c_str(), desc, n_vocab);
  printf(
      "parallel %d  prompt_tokens %d  output_tokens %d  n_ctx %u  n_batch %u  n_ubatch %u  "
      "flash_attn %s  kv_unified %s  gpu_layers %d  threads %d\n",
      o.parallel, o.prompt_tokens, o.output_tokens, llama_n_ctx(ctx), llama_n_batch(ctx),
      llama_n_ubatch(ctx), o.flash_attn ? "on" : "off", o.kv_unified ? "on" : "off", o.gpu_layers,
      o.threads);

  int exit_code = 0;
  {
    Bench bench(ctx, o, n_vocab);
    RoundTimes sum;  // over rounds 2..R
    for (int round = 1; round <= o.rounds; ++round) {
      const std::optional<RoundTimes> t = bench.RunRound();
      if (!t.has_value()) {
        exit_code = 1;
        break;
      }
      const std::string label = "round " + std::to_string(round) + (round == 1 ? " (warm-up)" : "");
      PrintTimes(label.c_str(), *t, o);
      if (round > 1) {
        sum.prefill_ms += t->prefill_ms;
        sum.decode_ms += t->decode_ms;
        sum.prefill_argmax_ms += t->prefill_argmax_ms;
        sum.decode_argmax_ms += t->decode_argmax_ms;
      }
    }
    if (exit_code == 0 && o.rounds > 1) {
      const double n = o.rounds - 1;
      const RoundTimes mean{sum.prefill_ms / n, sum.decode_ms / n, sum.prefill_argmax_ms / n,
                            sum.decode_argmax_ms / n};
      PrintTimes("mean (rounds 2+)", mean, o);
    }
  }  // frees the batch before the context

  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return exit_code;
}
