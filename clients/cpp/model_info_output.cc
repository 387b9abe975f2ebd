#include "clients/cpp/model_info_output.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tessera::cli {

std::string HumanBytes(int64_t bytes) {
  constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return absl::StrFormat("%d B", bytes);
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

void PrintModelInfo(const inference::v1::ModelInfo& model, std::ostream& out) {
  out << absl::StreamFormat(
      "name:                     %s\n"
      "path:                     %s\n"
      "architecture:             %s\n"
      "device:                   %s\n"
      "vocab_size:               %d\n"
      "hidden_size:              %d\n"
      "num_layers:               %d\n"
      "num_attention_heads:      %d\n"
      "num_kv_heads:             %d\n"
      "context_length:           %d\n"
      "weight_dtype:             %s\n"
      "weight_bytes:             %d (%s)\n"
      "kv_cache_bytes_per_token: %d\n"
      "kv_cache_capacity_tokens: %d\n"
      "prefix_sharing:           %s\n",
      model.name(), model.path(), model.architecture(), model.device(), model.vocab_size(),
      model.hidden_size(), model.num_layers(), model.num_attention_heads(), model.num_kv_heads(),
      model.context_length(), model.weight_dtype(), model.weight_bytes(),
      HumanBytes(model.weight_bytes()), model.kv_cache_bytes_per_token(),
      model.kv_cache_capacity_tokens(), model.prefix_sharing() ? "on" : "off");
}

void PrintModelTable(const google::protobuf::RepeatedPtrField<inference::v1::ModelInfo>& models,
                     std::ostream& out) {
  if (models.empty()) {
    out << "no models loaded\n";
    return;
  }
  constexpr char kRow[] = "%-20s %-12s %-6s %-8s %7s %7s %10s  %s\n";
  out << absl::StreamFormat(kRow, "NAME", "ARCHITECTURE", "DEVICE", "DTYPE", "LAYERS", "CONTEXT",
                            "WEIGHTS", "PATH");
  for (const inference::v1::ModelInfo& model : models) {
    out << absl::StreamFormat(kRow, model.name(), model.architecture(), model.device(),
                              model.weight_dtype(), absl::StrCat(model.num_layers()),
                              absl::StrCat(model.context_length()),
                              HumanBytes(model.weight_bytes()), model.path());
  }
}

}  // namespace tessera::cli
