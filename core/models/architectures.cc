#include "core/models/architectures.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

struct Architecture {
  absl::string_view name;  // general.architecture
  absl::StatusOr<std::unique_ptr<Model>> (*build)(const gguf::GgufFile&);
};

constexpr Architecture kArchitectures[] = {
    {"llama", BuildLlama},
    {"qwen2", BuildQwen2},
    {"qwen3", BuildQwen3},
    {"phi3", BuildPhi3},
};

struct HfArchitecture {
  absl::string_view name;  // config.json "architectures"
  absl::Status (*convert)(const HfCheckpoint&, gguf::GgufBuilder&);
};

constexpr HfArchitecture kHfArchitectures[] = {
    {"LlamaForCausalLM", ConvertLlamaCheckpoint},
    {"MistralForCausalLM", ConvertLlamaCheckpoint},
    {"Qwen2ForCausalLM", ConvertQwen2Checkpoint},
    {"Qwen3ForCausalLM", ConvertQwen3Checkpoint},
    {"Phi3ForCausalLM", ConvertPhi3Checkpoint},
};

template <typename Table>
absl::Status Unsupported(absl::string_view path, absl::string_view name, const Table& table) {
  std::string supported;
  for (const auto& row : table) absl::StrAppend(&supported, supported.empty() ? "" : ", ", row.name);
  return WithReason(absl::UnimplementedError(absl::StrCat(path, ": architecture '", name,
                                                          "' is not supported (supported: ",
                                                          supported, ")")),
                    reason::kUnsupportedArchitecture);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> BuildModelFromGguf(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(std::string_view name_in_file, file.GetString("general.architecture"));
  const std::string name(name_in_file);
  for (const Architecture& architecture : kArchitectures) {
    if (architecture.name == name) return architecture.build(file);
  }
  return Unsupported(file.path(), name, kArchitectures);
}

absl::Status ConvertHfCheckpoint(const HfCheckpoint& checkpoint, gguf::GgufBuilder& out) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::string> names,
                           checkpoint.config.GetStringList("architectures"));
  const std::string name = names.empty() ? "" : names.front();
  for (const HfArchitecture& architecture : kHfArchitectures) {
    if (architecture.name == name) return architecture.convert(checkpoint, out);
  }
  return Unsupported(checkpoint.config.path(), name, kHfArchitectures);
}

}  // namespace tessera
