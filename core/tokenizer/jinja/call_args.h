// Matching a call's arguments to a built-in's parameters, the way Python does.
#pragma once

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

// One entry per parameter: positional arguments fill them in order, keyword arguments by
// name; parameters not given stay empty. Too many arguments, an unknown keyword or a
// parameter given twice is an error naming `function_name`.
absl::StatusOr<std::vector<std::optional<Value>>> BindArgs(
    const CallArgs& args, absl::string_view function_name,
    const std::vector<absl::string_view>& parameters);

// The argument must be a string / an int (a bool counts, as in Python).
absl::StatusOr<std::string> StringArg(const Value& value, absl::string_view what);
absl::StatusOr<int64_t> IntArg(const Value& value, absl::string_view what);

}  // namespace tessera::jinja
