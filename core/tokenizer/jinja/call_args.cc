#include "core/tokenizer/jinja/call_args.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tessera::jinja {

absl::StatusOr<std::vector<std::optional<Value>>> BindArgs(
    const CallArgs& args, absl::string_view function_name,
    const std::vector<absl::string_view>& parameters) {
  if (args.positional.size() > parameters.size()) {
    return absl::InvalidArgumentError(absl::StrCat(function_name, "() takes at most ",
                                                   parameters.size(), " arguments (",
                                                   args.positional.size(), " given)"));
  }
  std::vector<std::optional<Value>> bound(parameters.size());
  std::copy(args.positional.begin(), args.positional.end(), bound.begin());
  for (const auto& [name, value] : args.keyword) {
    const auto it = std::find(parameters.begin(), parameters.end(), name);
    if (it == parameters.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(function_name, "() got an unexpected keyword argument '", name, "'"));
    }
    std::optional<Value>& slot = bound[it - parameters.begin()];
    if (slot) {
      return absl::InvalidArgumentError(
          absl::StrCat(function_name, "() got multiple values for argument '", name, "'"));
    }
    slot = value;
  }
  return bound;
}

absl::StatusOr<std::string> StringArg(const Value& value, absl::string_view what) {
  if (!value.is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a string, not ", TypeName(value)));
  }
  return value.as_string();
}

absl::StatusOr<int64_t> IntArg(const Value& value, absl::string_view what) {
  if (value.kind() != Value::Kind::kInt && value.kind() != Value::Kind::kBool) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be an integer, not ", TypeName(value)));
  }
  return value.as_int();
}

}  // namespace tessera::jinja
