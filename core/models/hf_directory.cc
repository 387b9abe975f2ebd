#include "core/models/hf_directory.h"

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/format/hf_config.h"
#include "core/format/json_file.h"
#include "core/format/mapped_file.h"
#include "core/format/safetensors_model.h"
#include "core/models/architectures.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "core/tokenizer/hf_tokenizer_to_gguf.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

bool Exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

// The chat template: chat_template.jinja (transformers 5 writes it beside the config), else
// tokenizer_config.json's "chat_template", a string or a list of named templates of which the
// one named "default" is the chat template.
absl::StatusOr<std::optional<std::string>> ReadChatTemplate(const std::string& dir) {
  const std::string jinja_path = dir + "/chat_template.jinja";
  if (Exists(jinja_path)) {
    TESSERA_ASSIGN_OR_RETURN(const MappedFile file, MappedFile::Open(jinja_path));
    return std::string(file.bytes());
  }
  const std::string config_path = dir + "/tokenizer_config.json";
  if (!Exists(config_path)) return std::nullopt;
  TESSERA_ASSIGN_OR_RETURN(const nlohmann::json config, ReadJsonFile(config_path));
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    for (const nlohmann::json& entry : *it) {
      if (entry.is_object() && entry.value("name", "") == "default" &&
          entry.contains("template") && entry["template"].is_string()) {
        return entry["template"].get<std::string>();
      }
    }
  }
  return WithReason(absl::InvalidArgumentError(absl::StrCat(
                        config_path, ": chat_template is ", std::string(JsonTypeName(*it)),
                        ", expected a string or a list with a template named \"default\"")),
                    reason::kInvalidModelFile);
}

// Checkpoints often have more embedding rows than tokenizer.json has tokens (Qwen2.5: 151936 and
// 151665). The ids beyond the tokenizer's become unused "[PAD<id>]" tokens, as llama.cpp's
// converter writes them and as ReadHfTokenizer names the ids inside the tokenizer no entry names.
absl::Status PadVocabulary(const HfConfig& config, const std::string& tokenizer_path,
                           Vocabulary& vocabulary) {
  TESSERA_ASSIGN_OR_RETURN(const int64_t vocab_size, config.GetInt("vocab_size"));
  auto [tokens, types] = std::visit(
      [](auto& entries) { return std::tie(entries.tokens, entries.types); }, vocabulary);
  const int64_t tokenizer_size = static_cast<int64_t>(tokens.size());
  if (tokenizer_size > vocab_size) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          tokenizer_path, " has ", tokenizer_size, " tokens, more than ",
                          config.path(), "'s vocab_size ", vocab_size)),
                      reason::kInvalidModelFile);
  }
  if (auto* spm = std::get_if<SpmVocabulary>(&vocabulary); spm != nullptr && !spm->scores.empty()) {
    // Merging never forms an unused token, so its score only has to be the lowest.
    spm->scores.resize(vocab_size, *std::min_element(spm->scores.begin(), spm->scores.end()));
  }
  for (int64_t id = tokenizer_size; id < vocab_size; ++id) {
    tokens.push_back(absl::StrCat("[PAD", id, "]"));
    types.push_back(TokenType::kUnused);
  }
  return absl::OkStatus();
}

absl::Status AddTokenizer(const std::string& dir, const HfConfig& config, bool require_tokenizer,
                          gguf::GgufWriter& out) {
  const std::string tokenizer_path = dir + "/tokenizer.json";
  if (!Exists(tokenizer_path)) {
    if (!require_tokenizer) return absl::OkStatus();
    return WithReason(absl::NotFoundError(absl::StrCat(
                          dir, ": no tokenizer.json; a model directory needs its tokenizer")),
                      reason::kModelFileNotFound);
  }
  TESSERA_ASSIGN_OR_RETURN(Vocabulary vocabulary, ReadHfTokenizer(tokenizer_path));
  TESSERA_RETURN_IF_ERROR(PadVocabulary(config, tokenizer_path, vocabulary));
  TESSERA_RETURN_IF_ERROR(AddVocabularyToGguf(vocabulary, out));
  TESSERA_ASSIGN_OR_RETURN(const std::optional<std::string> chat_template, ReadChatTemplate(dir));
  if (chat_template) out.AddString("tokenizer.chat_template", *chat_template);
  return absl::OkStatus();
}

absl::Status AddEndOfSequenceIds(const std::string& dir, gguf::GgufWriter& out) {
  const std::string path = dir + "/generation_config.json";
  if (!Exists(path)) return absl::OkStatus();
  TESSERA_ASSIGN_OR_RETURN(const GenerationConfig generation, ReadGenerationConfig(path));
  if (!generation.eos_token_ids.empty()) {
    out.AddArray<int32_t>(kEosTokenIdsKey, generation.eos_token_ids);
  }
  return absl::OkStatus();
}

struct Converted {
  gguf::GgufBuilder builder;
  std::shared_ptr<const safetensors::SafetensorsModel> weights;  // what the tensors view
};

absl::StatusOr<Converted> Convert(const std::string& dir, bool require_tokenizer) {
  TESSERA_ASSIGN_OR_RETURN(const HfConfig config, HfConfig::Read(dir + "/config.json"));
  TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<const safetensors::SafetensorsModel> weights,
                           safetensors::SafetensorsModel::Open(dir));
  Converted converted{.weights = std::move(weights)};
  gguf::GgufWriter& metadata = converted.builder.metadata();
  metadata.AddString("general.name", std::filesystem::path(dir).filename().string());
  TESSERA_RETURN_IF_ERROR(
      ConvertHfCheckpoint(HfCheckpoint{config, *converted.weights}, converted.builder));
  TESSERA_RETURN_IF_ERROR(AddTokenizer(dir, config, require_tokenizer, metadata));
  TESSERA_RETURN_IF_ERROR(AddEndOfSequenceIds(dir, metadata));
  return converted;
}

}  // namespace

bool IsHfDirectory(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_directory(path, error) && Exists(path + "/config.json");
}

absl::StatusOr<std::unique_ptr<gguf::GgufFile>> OpenHfDirectory(const std::string& dir,
                                                                bool require_tokenizer) {
  TESSERA_ASSIGN_OR_RETURN(Converted converted, Convert(dir, require_tokenizer));
  return std::move(converted.builder).Build(dir, std::move(converted.weights));
}

absl::Status ConvertHfDirectoryToGguf(const std::string& dir, const std::string& gguf_path) {
  TESSERA_ASSIGN_OR_RETURN(const Converted converted, Convert(dir, /*require_tokenizer=*/false));
  return converted.builder.WriteFile(gguf_path);
}

}  // namespace tessera
