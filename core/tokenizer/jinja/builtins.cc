#include "core/tokenizer/jinja/builtins.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/jinja/call_args.h"
#include "core/tokenizer/jinja/value_format.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

// Jinja2's sandbox refuses ranges longer than this.
constexpr int64_t kMaxRange = 100000;

absl::StatusOr<Value> Range(const CallArgs& args) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::optional<Value>> bound,
                           BindArgs(args, "range", {"start", "stop", "step"}));
  if (!bound[0]) return absl::InvalidArgumentError("range expected at least 1 argument, got 0");
  std::vector<int64_t> numbers;
  for (const std::optional<Value>& arg : bound) {
    if (!arg) break;
    TESSERA_ASSIGN_OR_RETURN(int64_t number, IntArg(*arg, "range() argument"));
    numbers.push_back(number);
  }
  // range(stop) counts from 0.
  const int64_t start = numbers.size() == 1 ? 0 : numbers[0];
  const int64_t stop = numbers.size() == 1 ? numbers[0] : numbers[1];
  const int64_t step = numbers.size() == 3 ? numbers[2] : 1;
  if (step == 0) return absl::InvalidArgumentError("range() arg 3 must not be zero");
  ValueList items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(items.size()) == kMaxRange) {
      return absl::InvalidArgumentError("range() longer than the sandbox allows (100000)");
    }
    items.push_back(Value::Int(i));
  }
  return Value::List(std::move(items));
}

// dict(mapping?, **kwargs), which namespace() also takes.
absl::StatusOr<ValueDict> DictArgs(const CallArgs& args, absl::string_view function_name) {
  if (args.positional.size() > 1 ||
      (args.positional.size() == 1 && args.positional[0].kind() != Value::Kind::kDict)) {
    return absl::InvalidArgumentError(
        absl::StrCat(function_name, "() takes a mapping and keyword arguments"));
  }
  ValueDict entries = args.positional.empty() ? ValueDict{} : args.positional[0].as_dict();
  for (const auto& [name, value] : args.keyword) {
    bool replaced = false;
    for (auto& entry : entries) {
      if (entry.first == name) {
        entry.second = value;
        replaced = true;
      }
    }
    if (!replaced) entries.emplace_back(name, value);
  }
  return entries;
}

}  // namespace

ValueDict BuiltinGlobals(absl::Time now) {
  return {
      {"range", Value::Function(Range)},
      {"dict", Value::Function([](const CallArgs& args) -> absl::StatusOr<Value> {
         TESSERA_ASSIGN_OR_RETURN(ValueDict entries, DictArgs(args, "dict"));
         return Value::Dict(std::move(entries));
       })},
      {"namespace", Value::Function([](const CallArgs& args) -> absl::StatusOr<Value> {
         TESSERA_ASSIGN_OR_RETURN(ValueDict attributes, DictArgs(args, "namespace"));
         return Value::Namespace(std::move(attributes));
       })},
      {"raise_exception", Value::Function([](const CallArgs& args) -> absl::StatusOr<Value> {
         TESSERA_ASSIGN_OR_RETURN(std::vector<std::optional<Value>> bound,
                                  BindArgs(args, "raise_exception", {"message"}));
         return absl::InvalidArgumentError(bound[0] ? ToStr(*bound[0]) : "");
       })},
      {"strftime_now", Value::Function([now](const CallArgs& args) -> absl::StatusOr<Value> {
         TESSERA_ASSIGN_OR_RETURN(std::vector<std::optional<Value>> bound,
                                  BindArgs(args, "strftime_now", {"format"}));
         if (!bound[0]) return absl::InvalidArgumentError("strftime_now() needs a format");
         TESSERA_ASSIGN_OR_RETURN(std::string format, StringArg(*bound[0], "format"));
         return Value::String(absl::FormatTime(format, now, absl::LocalTimeZone()));
       })},
  };
}

}  // namespace tessera::jinja
