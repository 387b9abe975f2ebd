#include "core/format/model_file_error.h"

#include "absl/strings/str_format.h"
#include "core/util/error_reason.h"

namespace tessera {

absl::Status InvalidModelFileError(std::string_view path, std::string_view what) {
  return WithReason(absl::InvalidArgumentError(absl::StrFormat("%s: %s", path, what)),
                    reason::kInvalidModelFile);
}

absl::Status ModelFileNotFoundError(std::string_view path) {
  return WithReason(absl::NotFoundError(absl::StrFormat("%s: no such file", path)),
                    reason::kModelFileNotFound);
}

}  // namespace tessera
