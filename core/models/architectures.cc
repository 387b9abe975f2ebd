#include "core/models/architectures.h"

#include <string>

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
};

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> BuildModelFromGguf(const gguf::GgufFile& file) {
  TESSERA_ASSIGN_OR_RETURN(std::string_view name_in_file, file.GetString("general.architecture"));
  const std::string name(name_in_file);
  for (const Architecture& architecture : kArchitectures) {
    if (architecture.name == name) return architecture.build(file);
  }
  std::string supported;
  for (const Architecture& architecture : kArchitectures) {
    absl::StrAppend(&supported, supported.empty() ? "" : ", ", architecture.name);
  }
  return WithReason(absl::UnimplementedError(absl::StrCat(
                        file.path(), ": architecture '", name,
                        "' is not supported (supported: ", supported, ")")),
                    reason::kUnsupportedArchitecture);
}

}  // namespace tessera
