// The two errors every model-file reader returns, worded the same way: the message starts with
// the file's path so a user knows which file to fix.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace tessera {

// INVALID_ARGUMENT, reason INVALID_MODEL_FILE: "<path>: <what>".
absl::Status InvalidModelFileError(std::string_view path, std::string_view what);

// NOT_FOUND, reason MODEL_FILE_NOT_FOUND.
absl::Status ModelFileNotFoundError(std::string_view path);

}  // namespace tessera
