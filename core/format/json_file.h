// JSON as found in model files (safetensors headers, config.json, shard indexes), parsed with
// errors that name the file and the place of the problem.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace tessera {

// Parses `text`, which `what` names in errors ("header", "content"). Keys must be unique within
// each object: the safetensors format requires it, and a repeated key in a config file leaves
// its value ambiguous. Errors: INVALID_ARGUMENT (INVALID_MODEL_FILE) naming `path`, `what` and
// the position of the syntax error or the repeated key.
absl::StatusOr<nlohmann::json> ParseJson(std::string_view path, std::string_view what,
                                         std::string_view text);

// Maps the file at `path` and parses its content. Errors: those of MappedFile::Open, and those
// of ParseJson for an empty or malformed file.
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

// The JSON type of `value` as a reader would name it in an error: "an integer", "a string", ...
std::string_view JsonTypeName(const nlohmann::json& value);

}  // namespace tessera
