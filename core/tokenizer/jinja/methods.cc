#include "core/tokenizer/jinja/methods.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/jinja/call_args.h"
#include "core/tokenizer/jinja/python_str.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

using Method = absl::StatusOr<Value> (*)(const Value& self,
                                         const std::vector<std::optional<Value>>&);

struct MethodSpec {
  absl::string_view name;
  std::vector<absl::string_view> parameters;
  Method method;
};

// An optional string argument; None means "not given", as in Python.
absl::StatusOr<std::optional<std::string>> OptionalString(const std::optional<Value>& arg,
                                                          absl::string_view what) {
  if (!arg || arg->is_none()) return std::nullopt;
  TESSERA_ASSIGN_OR_RETURN(std::string text, StringArg(*arg, what));
  return text;
}

template <StripSide side>
absl::StatusOr<Value> StripMethod(const Value& self,
                                  const std::vector<std::optional<Value>>& args) {
  TESSERA_ASSIGN_OR_RETURN(std::optional<std::string> chars, OptionalString(args[0], "chars"));
  return Value::String(Strip(self.as_string(), chars, side));
}

absl::StatusOr<Value> SplitMethod(const Value& self,
                                  const std::vector<std::optional<Value>>& args) {
  TESSERA_ASSIGN_OR_RETURN(std::optional<std::string> separator, OptionalString(args[0], "sep"));
  int64_t max_splits = -1;
  if (args[1]) {
    TESSERA_ASSIGN_OR_RETURN(max_splits, IntArg(*args[1], "maxsplit"));
  }
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> pieces,
                           Split(self.as_string(), separator, max_splits));
  ValueList items;
  for (std::string& piece : pieces) items.push_back(Value::String(std::move(piece)));
  return Value::List(std::move(items));
}

// startswith / endswith: the argument is a string or a tuple of strings, any of which matches.
template <bool (*Matches)(absl::string_view, absl::string_view)>
absl::StatusOr<Value> AffixMethod(const Value& self,
                                  const std::vector<std::optional<Value>>& args) {
  if (!args[0]) return absl::InvalidArgumentError("expected 1 argument, got 0");
  const Value& affixes = *args[0];
  const ValueList candidates =
      affixes.kind() == Value::Kind::kTuple ? affixes.as_list() : ValueList{affixes};
  for (const Value& candidate : candidates) {
    TESSERA_ASSIGN_OR_RETURN(std::string affix, StringArg(candidate, "prefix/suffix"));
    if (Matches(self.as_string(), affix)) return Value::Bool(true);
  }
  return Value::Bool(false);
}

template <std::string (*Convert)(absl::string_view)>
absl::StatusOr<Value> CaseMethod(const Value& self, const std::vector<std::optional<Value>>&) {
  return Value::String(Convert(self.as_string()));
}

absl::StatusOr<Value> ReplaceMethod(const Value& self,
                                    const std::vector<std::optional<Value>>& args) {
  if (!args[0] || !args[1]) return absl::InvalidArgumentError("replace() takes 2 arguments");
  TESSERA_ASSIGN_OR_RETURN(std::string old_text, StringArg(*args[0], "old"));
  TESSERA_ASSIGN_OR_RETURN(std::string new_text, StringArg(*args[1], "new"));
  int64_t count = -1;
  if (args[2]) {
    TESSERA_ASSIGN_OR_RETURN(count, IntArg(*args[2], "count"));
  }
  return Value::String(Replace(self.as_string(), old_text, new_text, count));
}

const std::vector<MethodSpec>& StringMethods() {
  static const auto* methods = new std::vector<MethodSpec>{
      {"strip", {"chars"}, StripMethod<StripSide::kBoth>},
      {"lstrip", {"chars"}, StripMethod<StripSide::kLeft>},
      {"rstrip", {"chars"}, StripMethod<StripSide::kRight>},
      {"split", {"sep", "maxsplit"}, SplitMethod},
      {"startswith", {"prefix"}, AffixMethod<absl::StartsWith>},
      {"endswith", {"suffix"}, AffixMethod<absl::EndsWith>},
      {"lower", {}, CaseMethod<Lower>},
      {"upper", {}, CaseMethod<Upper>},
      {"title", {}, CaseMethod<Title>},
      {"capitalize", {}, CaseMethod<Capitalize>},
      {"replace", {"old", "new", "count"}, ReplaceMethod},
  };
  return *methods;
}

absl::StatusOr<Value> ItemsMethod(const Value& self, const std::vector<std::optional<Value>>&) {
  ValueList pairs;
  for (const auto& [key, value] : self.as_dict()) {
    pairs.push_back(Value::Tuple({Value::String(key), value}));
  }
  return Value::List(std::move(pairs));
}

absl::StatusOr<Value> KeysMethod(const Value& self, const std::vector<std::optional<Value>>&) {
  ValueList keys;
  for (const auto& entry : self.as_dict()) keys.push_back(Value::String(entry.first));
  return Value::List(std::move(keys));
}

absl::StatusOr<Value> ValuesMethod(const Value& self, const std::vector<std::optional<Value>>&) {
  ValueList values;
  for (const auto& entry : self.as_dict()) values.push_back(entry.second);
  return Value::List(std::move(values));
}

absl::StatusOr<Value> GetMethod(const Value& self, const std::vector<std::optional<Value>>& args) {
  if (!args[0]) return absl::InvalidArgumentError("get() takes at least 1 argument");
  if (args[0]->is_string()) {
    if (const Value* found = FindKey(self.as_dict(), args[0]->as_string())) return *found;
  }
  return args[1].value_or(Value::None());
}

const std::vector<MethodSpec>& DictMethods() {
  static const auto* methods = new std::vector<MethodSpec>{
      {"items", {}, ItemsMethod},
      {"keys", {}, KeysMethod},
      {"values", {}, ValuesMethod},
      {"get", {"key", "default"}, GetMethod},
  };
  return *methods;
}

}  // namespace

std::optional<Value> FindMethod(const Value& receiver, absl::string_view name) {
  const std::vector<MethodSpec>* methods = nullptr;
  if (receiver.is_string()) methods = &StringMethods();
  if (receiver.kind() == Value::Kind::kDict) methods = &DictMethods();
  if (methods == nullptr) return std::nullopt;
  for (const MethodSpec& spec : *methods) {
    if (spec.name != name) continue;
    return Value::Function([receiver, &spec](const CallArgs& args) -> absl::StatusOr<Value> {
      TESSERA_ASSIGN_OR_RETURN(std::vector<std::optional<Value>> bound,
                               BindArgs(args, spec.name, spec.parameters));
      return spec.method(receiver, bound);
    });
  }
  return std::nullopt;
}

}  // namespace tessera::jinja
