// tessera-server: serves tessera.inference.v1.InferenceService over gRPC.
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/server.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "Address to listen on, host:port.");
ABSL_FLAG(std::vector<std::string>, model, {},
          "Model to load at start as name=path, the path a GGUF file or a Hugging Face model "
          "directory; repeat the flag or separate with commas.");
ABSL_FLAG(std::string, device, "",
          "Device of the models loaded at start: cpu, cuda or cuda:N; empty: the first GPU when "
          "there is one, else cpu.");
ABSL_FLAG(int, threads, 0, "Threads of the CPU kernels; 0: one per core.");
ABSL_FLAG(absl::Duration, session_idle_timeout, absl::Minutes(10),
          "Sessions unused for this long are released.");
ABSL_FLAG(int64_t, kv_cache_tokens, 0,
          "KV-cache capacity of each model loaded at start, in tokens; 0: the engine's default.");
ABSL_FLAG(double, kv_cache_memory_fraction, 0,
          "KV-cache capacity of each model loaded at start as a share, in (0, 1], of the memory "
          "its device has free once the weights are in, leaving the rest to the passes' working "
          "buffers; not with --kv_cache_tokens. 0: the engine's default (eight full contexts "
          "within 90% of that memory).");
ABSL_FLAG(bool, prefix_sharing, true,
          "Whether requests to the models loaded at start share the KV cache of common prompt "
          "prefixes.");
ABSL_FLAG(int32_t, max_batch_tokens, tessera::kDefaultMaxBatchTokens,
          "Most tokens one step of a model loaded at start feeds it: decoding sequences' tokens "
          "first, then prompts in chunks of what is left.");

namespace {

// absl keeps only the last value of a repeated flag, so every --model is read from argv.
std::vector<std::string> ModelFlagValues(int argc, char** argv) {
  std::vector<std::string> values;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
    if (arg == "model" && i + 1 < argc) {
      values.emplace_back(argv[++i]);
    } else if (absl::ConsumePrefix(&arg, "model=")) {
      values.emplace_back(arg);
    }
  }
  return values;
}

// Blocks SIGINT and SIGTERM in this thread and every thread started after it, so that only
// WaitForShutdownSignal sees them.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int WaitForShutdownSignal(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Serves LLM inference over gRPC (tessera.inference.v1).");
  const std::vector<std::string> model_flags = ModelFlagValues(argc, argv);
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built without NDEBUG, which leaves Mutex's deadlock detection on: every
  // lock taken under another updates one global graph of lock orders, a cost the engine's thread
  // pays between forward passes for each stream. The tests keep the detection; the server does
  // not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  tessera::server::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.session_idle_timeout = absl::GetFlag(FLAGS_session_idle_timeout);
  options.kv_cache_tokens = absl::GetFlag(FLAGS_kv_cache_tokens);
  options.kv_cache_memory_fraction = absl::GetFlag(FLAGS_kv_cache_memory_fraction);
  options.prefix_sharing = absl::GetFlag(FLAGS_prefix_sharing);
  options.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  options.device = absl::GetFlag(FLAGS_device);
  for (const std::string& flag : model_flags) {
    for (absl::string_view spec : absl::StrSplit(flag, ',', absl::SkipEmpty())) {
      std::vector<std::string> name_path = absl::StrSplit(spec, absl::MaxSplits('=', 1));
      if (name_path.size() != 2) {
        std::cerr << "--model expects name=path, got \"" << spec << "\"\n";
        return EXIT_FAILURE;
      }
      options.models.push_back({name_path[0], name_path[1]});
    }
  }

  const sigset_t shutdown_signals = BlockShutdownSignals();
  absl::StatusOr<std::unique_ptr<tessera::server::Server>> server =
      tessera::server::Server::Start(options);
  if (!server.ok()) {
    std::cerr << "tessera-server: " << server.status() << "\n";
    return EXIT_FAILURE;
  }
  std::cerr << "tessera-server listening on port " << (*server)->port() << " ("
            << options.listen_address << ")\n";
  const int signal = WaitForShutdownSignal(shutdown_signals);
  std::cerr << "tessera-server: " << strsignal(signal)
            << ", draining in-flight calls and shutting down\n";
  server->reset();  // stops listening, lets running calls finish within a grace period
  return EXIT_SUCCESS;
}
