#include "core/tokenizer/jinja/filters.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/tokenizer/jinja/access.h"
#include "core/tokenizer/jinja/call_args.h"
#include "core/tokenizer/jinja/operators.h"
#include "core/tokenizer/jinja/python_str.h"
#include "core/tokenizer/jinja/tests.h"
#include "core/tokenizer/jinja/unicode.h"
#include "core/tokenizer/jinja/value_format.h"
#include "core/tokenizer/jinja/value_json.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

using Args = std::vector<std::optional<Value>>;
// A filter with named parameters, bound before the call.
using Filter = absl::StatusOr<Value> (*)(const Value& operand, const Args& args);
// A filter taking the call's arguments as they are (those that forward them to a test or
// another filter).
using RawFilter = absl::StatusOr<Value> (*)(const Value& operand, const CallArgs& args);

struct FilterSpec {
  absl::string_view name;
  std::vector<absl::string_view> parameters;
  Filter filter = nullptr;
  RawFilter raw = nullptr;
};

// Jinja2's attribute getter: "a.b.0" looks up each dotted part as an item, digits as indices.
absl::StatusOr<Value> GetAttributePath(const Value& item, const Value& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, StringArg(path, "attribute"));
  Value current = item;
  for (absl::string_view part : absl::StrSplit(text, '.')) {
    int64_t index = 0;
    const Value key =
        absl::SimpleAtoi(part, &index) ? Value::Int(index) : Value::String(std::string(part));
    TESSERA_ASSIGN_OR_RETURN(current, GetItem(current, key));
  }
  return current;
}

// ---- Text filters: the operand is converted with str() first, as Jinja2 does.

absl::StatusOr<Value> TrimFilter(const Value& operand, const Args& args) {
  std::optional<std::string> chars;
  if (args[0] && !args[0]->is_none()) {
    TESSERA_ASSIGN_OR_RETURN(chars, StringArg(*args[0], "chars"));
  }
  return Value::String(Strip(ToStr(operand), chars, StripSide::kBoth));
}

// Jinja2's title filter (not str.title): each piece between runs of whitespace, "-", "(",
// "{", "[" and "<" gets its first character raised and the rest lowered.
absl::StatusOr<Value> TitleFilter(const Value& operand, const Args&) {
  const std::u32string text = DecodeUtf8(ToStr(operand));
  const auto separates = [](char32_t c) {
    return IsPythonSpace(c) || c == U'-' || c == U'(' || c == U'{' || c == U'[' || c == U'<';
  };
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    // A piece is a run of separators or a run of other characters.
    const bool separator_run = separates(text[start]);
    size_t end = start;
    while (end < text.size() && separates(text[end]) == separator_run) ++end;
    const std::string piece = EncodeUtf8(std::u32string_view(text).substr(start, end - start));
    const size_t first_length = DecodeHead(piece).length;
    out += Upper(piece.substr(0, first_length));
    out += Lower(piece.substr(first_length));
    start = end;
  }
  return Value::String(std::move(out));
}

template <std::string (*Convert)(absl::string_view)>
absl::StatusOr<Value> CaseFilter(const Value& operand, const Args&) {
  return Value::String(Convert(ToStr(operand)));
}

absl::StatusOr<Value> ReplaceFilter(const Value& operand, const Args& args) {
  if (!args[0] || !args[1]) return absl::InvalidArgumentError("replace() takes 2 arguments");
  int64_t count = -1;
  if (args[2] && !args[2]->is_none()) {
    TESSERA_ASSIGN_OR_RETURN(count, IntArg(*args[2], "count"));
  }
  return Value::String(Replace(ToStr(operand), ToStr(*args[0]), ToStr(*args[1]), count));
}

absl::StatusOr<Value> StringFilter(const Value& operand, const Args&) {
  return Value::String(ToStr(operand));
}

absl::StatusOr<Value> IdentityFilter(const Value& operand, const Args&) { return operand; }

// ---- Sequences

absl::StatusOr<Value> LengthFilter(const Value& operand, const Args&) {
  TESSERA_ASSIGN_OR_RETURN(int64_t length, Length(operand));
  return Value::Int(length);
}

absl::StatusOr<Value> FirstFilter(const Value& operand, const Args&) {
  TESSERA_ASSIGN_OR_RETURN(ValueList items, Iterate(operand));
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

absl::StatusOr<Value> LastFilter(const Value& operand, const Args&) {
  TESSERA_ASSIGN_OR_RETURN(ValueList items, Iterate(operand));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

absl::StatusOr<Value> ListFilter(const Value& operand, const Args&) {
  TESSERA_ASSIGN_OR_RETURN(ValueList items, Iterate(operand));
  return Value::List(std::move(items));
}

absl::StatusOr<Value> ReverseFilter(const Value& operand, const Args&) {
  if (operand.is_string()) {
    std::u32string code_points = DecodeUtf8(operand.as_string());
    std::reverse(code_points.begin(), code_points.end());
    return Value::String(EncodeUtf8(code_points));
  }
  TESSERA_ASSIGN_OR_RETURN(ValueList items, Iterate(operand));
  std::reverse(items.begin(), items.end());
  return Value::List(std::move(items));
}

absl::StatusOr<Value> JoinFilter(const Value& operand, const Args& args) {
  TESSERA_ASSIGN_OR_RETURN(ValueList items, Iterate(operand));
  const std::string separator = args[0] ? ToStr(*args[0]) : "";
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    Value item = items[i];
    if (args[1] && !args[1]->is_none()) {
      TESSERA_ASSIGN_OR_RETURN(item, GetAttributePath(item, *args[1]));
    }
    if (i > 0) out += separator;
    out += ToStr(item);
  }
  return Value::String(std::move(out));
}

absl::StatusOr<Value> DefaultFilter(const Value& operand, const Args& args) {
  const bool boolean = args[1] && Truthy(*args[1]);
  const bool use_default = operand.is_undefined() || (boolean && !Truthy(operand));
  if (!use_default) return operand;
  return args[0].value_or(Value::String(""));
}

// ---- Mappings

absl::StatusOr<ValueList> ItemPairs(const Value& operand) {
  if (operand.is_undefined()) return ValueList{};
  if (operand.kind() != Value::Kind::kDict) {
    return absl::InvalidArgumentError("Can only get item pairs from a mapping.");
  }
  ValueList pairs;
  for (const auto& [key, value] : operand.as_dict()) {
    pairs.push_back(Value::Tuple({Value::String(key), value}));
  }
  return pairs;
}

absl::StatusOr<Value> ItemsFilter(const Value& operand, const Args&) {
  TESSERA_ASSIGN_OR_RETURN(ValueList pairs, ItemPairs(operand));
  return Value::List(std::move(pairs));
}

// dictsort(case_sensitive=False, by='key', reverse=False): a stable sort of the (key, value)
// pairs, strings compared lowercased unless case-sensitive.
absl::StatusOr<Value> DictSortFilter(const Value& operand, const Args& args) {
  const bool case_sensitive = args[0] && Truthy(*args[0]);
  std::string by = "key";
  if (args[1]) {
    TESSERA_ASSIGN_OR_RETURN(by, StringArg(*args[1], "by"));
  }
  if (by != "key" && by != "value") {
    return absl::InvalidArgumentError("You can only sort by either 'key' or 'value'");
  }
  const bool reverse = args[2] && Truthy(*args[2]);
  if (operand.kind() != Value::Kind::kDict) {
    return absl::InvalidArgumentError("dictsort() requires a mapping");
  }
  TESSERA_ASSIGN_OR_RETURN(ValueList pairs, ItemPairs(operand));
  const size_t field = by == "key" ? 0 : 1;
  const auto sort_key = [&](const Value& pair) {
    const Value& value = pair.as_list()[field];
    return value.is_string() && !case_sensitive ? Value::String(Lower(value.as_string())) : value;
  };
  absl::Status error;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& a, const Value& b) {
    absl::StatusOr<bool> before =
        Compare(reverse ? CompareOp::kGt : CompareOp::kLt, sort_key(a), sort_key(b));
    if (!before.ok()) error = before.status();
    return before.ok() && *before;
  });
  TESSERA_RETURN_IF_ERROR(error);
  return Value::List(std::move(pairs));
}

// ---- Numbers

absl::StatusOr<Value> AbsFilter(const Value& operand, const Args&) {
  if (operand.kind() == Value::Kind::kFloat) return Value::Float(std::abs(operand.as_float()));
  if (operand.is_number()) return Value::Int(std::abs(operand.as_int()));
  return absl::InvalidArgumentError(
      absl::StrCat("bad operand type for abs(): '", TypeName(operand), "'"));
}

// Python's float() of a string: surrounding whitespace allowed, underscores between digits.
std::optional<double> ParseFloat(const std::string& text) {
  std::string digits;
  for (char c : Strip(text, std::nullopt, StripSide::kBoth)) {
    if (c != '_') digits.push_back(c);
  }
  if (digits.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size()) return std::nullopt;
  return value;
}

absl::StatusOr<Value> FloatFilter(const Value& operand, const Args& args) {
  if (operand.is_undefined()) return UndefinedError(operand);
  if (operand.is_number()) return Value::Float(operand.as_float());
  if (operand.is_string()) {
    if (std::optional<double> value = ParseFloat(operand.as_string())) return Value::Float(*value);
  }
  return args[0].value_or(Value::Float(0.0));
}

absl::StatusOr<Value> IntFilter(const Value& operand, const Args& args) {
  if (operand.is_undefined()) return UndefinedError(operand);
  if (operand.kind() == Value::Kind::kFloat) {
    return Value::Int(static_cast<int64_t>(operand.as_float()));
  }
  if (operand.is_number()) return Value::Int(operand.as_int());
  if (operand.is_string()) {
    int64_t base = 10;
    if (args[1]) {
      TESSERA_ASSIGN_OR_RETURN(base, IntArg(*args[1], "base"));
    }
    const std::string text = Strip(operand.as_string(), std::nullopt, StripSide::kBoth);
    char* end = nullptr;
    errno = 0;
    const int64_t value = std::strtoll(text.c_str(), &end, static_cast<int>(base));
    if (!text.empty() && errno == 0 && end == text.c_str() + text.size()) return Value::Int(value);
    // Jinja2 falls back to int(float(text)).
    if (std::optional<double> number = ParseFloat(text)) {
      return Value::Int(static_cast<int64_t>(*number));
    }
  }
  return args[0].value_or(Value::Int(0));
}

// ---- JSON

// transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
absl::StatusOr<Value> ToJsonFilter(const Value& operand, const Args& args) {
  JsonDumpOptions options;
  options.ensure_ascii = args[0] && Truthy(*args[0]);
  if (args[1] && !args[1]->is_none()) {
    if (args[1]->is_string()) {
      options.indent = args[1]->as_string();
    } else {
      TESSERA_ASSIGN_OR_RETURN(int64_t spaces, IntArg(*args[1], "indent"));
      options.indent = std::string(std::max<int64_t>(spaces, 0), ' ');
    }
  }
  if (args[2] && !args[2]->is_none()) {
    const Value& separators = *args[2];
    if (!separators.is_sequence() || separators.as_list().size() != 2) {
      return absl::InvalidArgumentError("tojson separators must be a pair of strings");
    }
    TESSERA_ASSIGN_OR_RETURN(options.item_separator,
                             StringArg(separators.as_list()[0], "item separator"));
    TESSERA_ASSIGN_OR_RETURN(options.key_separator,
                             StringArg(separators.as_list()[1], "key separator"));
  }
  options.sort_keys = args[3] && Truthy(*args[3]);
  TESSERA_ASSIGN_OR_RETURN(std::string json, DumpJson(operand, options));
  return Value::String(std::move(json));
}

// ---- Filters that apply a test or another filter to each item

// The arguments after the first `skip` positional ones, for forwarding.
CallArgs Forwarded(const CallArgs& args, size_t skip) {
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + std::min(skip, args.positional.size()),
                         args.positional.end());
  rest.keyword = args.keyword;
  return rest;
}

// select / reject (test name, test args...) and selectattr / rejectattr (attribute, test name,
// test args...). Without a test name an item passes when it (or its attribute) is truthy.
template <bool keep, bool by_attribute>
absl::StatusOr<Value> SelectFilter(const Value& operand, const CallArgs& args) {
  const size_t name_index = by_attribute ? 1 : 0;
  if (by_attribute && args.positional.empty()) {
    return absl::InvalidArgumentError("selectattr/rejectattr need an attribute");
  }
  std::optional<std::string> test_name;
  if (args.positional.size() > name_index) {
    TESSERA_ASSIGN_OR_RETURN(test_name, StringArg(args.positional[name_index], "test name"));
  }
  const CallArgs test_args = Forwarded(args, name_index + 1);
  // Jinja2 treats a false operand (none, 0, empty) as empty without looking further.
  if (!Truthy(operand)) return Value::List({});
  TESSERA_ASSIGN_OR_RETURN(ValueList items, Iterate(operand));
  ValueList selected;
  for (const Value& item : items) {
    Value subject = item;
    if (by_attribute) {
      TESSERA_ASSIGN_OR_RETURN(subject, GetAttributePath(item, args.positional[0]));
    }
    bool passes = Truthy(subject);
    if (test_name) {
      TESSERA_ASSIGN_OR_RETURN(passes, ApplyTest(*test_name, subject, test_args));
    }
    if (passes == keep) selected.push_back(item);
  }
  return Value::List(std::move(selected));
}

// map(attribute='a.b', default=...) or map('filter', filter args...).
absl::StatusOr<Value> MapFilter(const Value& operand, const CallArgs& args) {
  // Jinja2 treats a false operand (none, 0, empty) as empty without looking further.
  if (!Truthy(operand)) return Value::List({});
  std::optional<Value> attribute;
  std::optional<Value> default_value;
  for (const auto& [name, value] : args.keyword) {
    if (name == "attribute") attribute = value;
    if (name == "default") default_value = value;
  }
  TESSERA_ASSIGN_OR_RETURN(ValueList items, Iterate(operand));
  ValueList mapped;
  if (attribute) {
    for (const Value& item : items) {
      TESSERA_ASSIGN_OR_RETURN(Value value, GetAttributePath(item, *attribute));
      mapped.push_back(value.is_undefined() && default_value ? *default_value : value);
    }
    return Value::List(std::move(mapped));
  }
  if (args.positional.empty()) return absl::InvalidArgumentError("map() needs a filter name");
  TESSERA_ASSIGN_OR_RETURN(std::string filter_name, StringArg(args.positional[0], "filter name"));
  const CallArgs filter_args = Forwarded(args, 1);
  for (const Value& item : items) {
    TESSERA_ASSIGN_OR_RETURN(Value value, ApplyFilter(filter_name, item, filter_args));
    mapped.push_back(std::move(value));
  }
  return Value::List(std::move(mapped));
}

const std::vector<FilterSpec>& Filters() {
  static const auto* filters = new std::vector<FilterSpec>{
      {"abs", {}, AbsFilter},
      {"capitalize", {}, CaseFilter<Capitalize>},
      {"count", {}, LengthFilter},
      {"d", {"default_value", "boolean"}, DefaultFilter},
      {"default", {"default_value", "boolean"}, DefaultFilter},
      {"dictsort", {"case_sensitive", "by", "reverse"}, DictSortFilter},
      {"first", {}, FirstFilter},
      {"float", {"default"}, FloatFilter},
      {"int", {"default", "base"}, IntFilter},
      {"items", {}, ItemsFilter},
      {"join", {"d", "attribute"}, JoinFilter},
      {"last", {}, LastFilter},
      {"length", {}, LengthFilter},
      {"list", {}, ListFilter},
      {"lower", {}, CaseFilter<Lower>},
      {"map", {}, nullptr, MapFilter},
      {"reject", {}, nullptr, SelectFilter<false, false>},
      {"rejectattr", {}, nullptr, SelectFilter<false, true>},
      {"replace", {"old", "new", "count"}, ReplaceFilter},
      {"reverse", {}, ReverseFilter},
      {"safe", {}, IdentityFilter},
      {"select", {}, nullptr, SelectFilter<true, false>},
      {"selectattr", {}, nullptr, SelectFilter<true, true>},
      {"string", {}, StringFilter},
      {"title", {}, TitleFilter},
      {"tojson", {"ensure_ascii", "indent", "separators", "sort_keys"}, ToJsonFilter},
      {"trim", {"chars"}, TrimFilter},
      {"upper", {}, CaseFilter<Upper>},
  };
  return *filters;
}

const FilterSpec* FindFilter(absl::string_view name) {
  for (const FilterSpec& spec : Filters()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace

bool IsKnownFilter(absl::string_view name) { return FindFilter(name) != nullptr; }

absl::StatusOr<Value> ApplyFilter(absl::string_view name, const Value& operand,
                                  const CallArgs& args) {
  const FilterSpec* spec = FindFilter(name);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no filter named '", name, "'"));
  }
  if (spec->raw) return spec->raw(operand, args);
  TESSERA_ASSIGN_OR_RETURN(Args bound, BindArgs(args, name, spec->parameters));
  return spec->filter(operand, bound);
}

}  // namespace tessera::jinja
