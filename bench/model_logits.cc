// Logits and greedy continuations of a model for given prompts, with their timings: Tessera's half
// of bench/compare_with_transformers.py, which checks every family at real shapes against
// Hugging Face transformers.
//   model_logits MODEL PROMPTS.json OUT.json [--threads N]
// MODEL is a GGUF file or a Hugging Face directory. PROMPTS.json:
//   {"prompts": [[token ids...], ...], "greedy_tokens": N}
// OUT.json, one entry per prompt:
//   {"prompts": [{"last_logits": [...vocab], "greedy": [...N ids], "prefill_seconds": s,
//                 "decode_seconds_per_token": s, or null when no token was decoded}]}
// Greedy decoding runs one Forward per token, as tests/core/hf_tiny_reference_test.cc does.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/engine/kv_cache.h"
#include "core/format/gguf.h"
#include "core/format/json_file.h"
#include "core/models/hf_directory.h"
#include "core/models/model.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"
#include "kernels/cpu/ops.h"

namespace tessera {
namespace {

using Clock = std::chrono::steady_clock;

struct PromptSet {
  std::vector<std::vector<int32_t>> prompts;
  int64_t greedy_tokens = 0;
};

struct PromptOutputs {
  std::vector<float> last_logits;  // [vocab]
  std::vector<int32_t> greedy;     // [greedy_tokens]
  double prefill_seconds = 0;
  std::optional<double> decode_seconds_per_token;  // none when no token was decoded
};

absl::Status BadPrompts(const std::string& path, absl::string_view field,
                        absl::string_view problem) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat(path, ": ", field, " ", problem)),
                    reason::kInvalidArgument);
}

// Token ids are checked against the vocabulary here: the embedding lookup trusts its caller.
absl::StatusOr<PromptSet> ReadPrompts(const std::string& path, int32_t vocab_size) {
  TESSERA_ASSIGN_OR_RETURN(const nlohmann::json root, ReadJsonFile(path));
  if (!root.is_object() || !root.contains("prompts") || !root["prompts"].is_array()) {
    return BadPrompts(path, "prompts", "must be a list of token id lists");
  }
  PromptSet set;
  const nlohmann::json greedy_tokens = root.value("greedy_tokens", nlohmann::json());
  if (!greedy_tokens.is_number_integer() || greedy_tokens.get<int64_t>() < 0) {
    return BadPrompts(path, "greedy_tokens", "must be an integer >= 0");
  }
  set.greedy_tokens = greedy_tokens.get<int64_t>();
  const nlohmann::json& prompts = root["prompts"];
  for (size_t p = 0; p < prompts.size(); ++p) {
    const nlohmann::json& prompt = prompts[p];
    const std::string field = absl::StrCat("prompts[", p, "]");
    if (!prompt.is_array() || prompt.empty()) {
      return BadPrompts(path, field, "must be a non-empty list of token ids");
    }
    std::vector<int32_t>& tokens = set.prompts.emplace_back();
    for (const nlohmann::json& id : prompt) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab_size) {
        return BadPrompts(path, field, absl::StrCat("holds ", id.dump(), ", not a token id in [0, ",
                                                    vocab_size, ")"));
      }
      tokens.push_back(id.get<int32_t>());
    }
  }
  return set;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int32_t Argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// One Forward over the prompt, then greedy tokens one Forward each; the last greedy token needs
// no pass of its own.
absl::StatusOr<PromptOutputs> RunPrompt(const Model& model, std::span<const int32_t> prompt,
                                        int64_t greedy_tokens) {
  const ModelInfo& info = model.info();
  const int64_t length = static_cast<int64_t>(prompt.size()) + greedy_tokens;
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<KvCachePool> pool,
                           KvCachePool::Create(info.kv_shape, length));
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<KvCache> cache, pool->Allocate(length));
  PromptOutputs out;
  std::vector<float> logits(info.vocab_size);  // [vocab]
  const Clock::time_point prefill_start = Clock::now();
  TESSERA_RETURN_IF_ERROR(model.Forward(prompt, *cache, logits));
  out.prefill_seconds = SecondsSince(prefill_start);
  out.last_logits = logits;
  double decode_seconds = 0;
  for (int64_t i = 0; i < greedy_tokens; ++i) {
    const int32_t next = Argmax(logits);
    out.greedy.push_back(next);
    if (i + 1 == greedy_tokens) break;
    const Clock::time_point decode_start = Clock::now();
    TESSERA_RETURN_IF_ERROR(model.Forward({&next, 1}, *cache, logits));
    decode_seconds += SecondsSince(decode_start);
  }
  if (greedy_tokens > 1) out.decode_seconds_per_token = decode_seconds / (greedy_tokens - 1);
  return out;
}

absl::StatusOr<std::unique_ptr<gguf::GgufFile>> OpenModelFile(const std::string& path) {
  if (IsHfDirectory(path)) return OpenHfDirectory(path, /*require_tokenizer=*/false);
  return gguf::GgufFile::Open(path);
}

absl::Status WriteOutputs(const std::vector<PromptOutputs>& outputs, const std::string& path,
                          std::ofstream& file) {
  nlohmann::json prompts = nlohmann::json::array();
  for (const PromptOutputs& out : outputs) {
    nlohmann::json decode = nullptr;
    if (out.decode_seconds_per_token) decode = *out.decode_seconds_per_token;
    prompts.push_back({{"last_logits", out.last_logits},
                       {"greedy", out.greedy},
                       {"prefill_seconds", out.prefill_seconds},
                       {"decode_seconds_per_token", decode}});
  }
  file << nlohmann::json{{"prompts", prompts}}.dump() << "\n";
  file.close();
  if (!file) return absl::InternalError(absl::StrCat(path, ": could not be written"));
  return absl::OkStatus();
}

absl::Status Run(const std::string& model_path, const std::string& prompts_path,
                 const std::string& out_path) {
  // The model reads its weights from the file, which must outlive it.
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<gguf::GgufFile> file, OpenModelFile(model_path));
  TESSERA_ASSIGN_OR_RETURN(const std::unique_ptr<Model> model, BuildModelFromGguf(*file));
  TESSERA_ASSIGN_OR_RETURN(const PromptSet set,
                           ReadPrompts(prompts_path, model->info().vocab_size));
  // Opened before the runs, which can take minutes, so a bad path fails at once.
  std::ofstream out_file(out_path);
  if (!out_file) return absl::NotFoundError(absl::StrCat(out_path, ": cannot be created"));
  std::vector<PromptOutputs> outputs;
  for (const std::vector<int32_t>& prompt : set.prompts) {
    TESSERA_ASSIGN_OR_RETURN(PromptOutputs out, RunPrompt(*model, prompt, set.greedy_tokens));
    outputs.push_back(std::move(out));
  }
  return WriteOutputs(outputs, out_path, out_file);
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  int threads = 0;  // one per core
  const bool threads_given = argc == 6 && std::string(argv[4]) == "--threads";
  if ((argc != 4 && !threads_given) || (threads_given && !absl::SimpleAtoi(argv[5], &threads))) {
    std::cerr << "usage: " << argv[0] << " MODEL PROMPTS.json OUT.json [--threads N]\n"
              << "  MODEL: a .gguf file or a Hugging Face model directory\n";
    return 2;
  }
  tessera::cpu::SetThreadCount(threads);
  const absl::Status status = tessera::Run(argv[1], argv[2], argv[3]);
  if (!status.ok()) {
    std::cerr << "model_logits: " << status << "\n";
    return 1;
  }
  return 0;
}
