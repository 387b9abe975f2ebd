#include "core/tokenizer/jinja/access.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/jinja/call_args.h"
#include "core/tokenizer/jinja/methods.h"
#include "core/tokenizer/jinja/operators.h"
#include "core/tokenizer/jinja/unicode.h"
#include "core/tokenizer/jinja/value_format.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

// How Jinja2 names an object's type in its undefined messages.
std::string ObjectTypeName(const Value& object) {
  return object.is_none() ? "None" : absl::StrCat(TypeName(object), " object");
}

Value MissingAttribute(const Value& object, absl::string_view name) {
  return Value::Undefined(
      absl::StrCat("'", ObjectTypeName(object), "' has no attribute '", name, "'"));
}

Value MissingElement(const Value& object, const Value& key) {
  return Value::Undefined(absl::StrCat(ObjectTypeName(object), " has no element ", ToRepr(key)));
}

// The item of a dict or namespace called `name`, if any.
const Value* FindEntry(const Value& object, absl::string_view name) {
  if (object.kind() == Value::Kind::kDict) return FindKey(object.as_dict(), name);
  if (object.kind() == Value::Kind::kNamespace) {
    return FindKey(object.namespace_attributes(), name);
  }
  return nullptr;
}

// Python's slice.indices(length): bounds clamped into range for the step's direction.
struct SliceBounds {
  int64_t start;
  int64_t stop;
  int64_t step;
};

absl::StatusOr<std::optional<int64_t>> SliceIndex(const std::optional<Value>& bound) {
  if (!bound || bound->is_none()) return std::nullopt;
  TESSERA_ASSIGN_OR_RETURN(int64_t index, IntArg(*bound, "slice index"));
  return index;
}

absl::StatusOr<SliceBounds> ResolveSlice(int64_t length, const std::optional<Value>& start,
                                         const std::optional<Value>& stop,
                                         const std::optional<Value>& step) {
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> step_index, SliceIndex(step));
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> start_index, SliceIndex(start));
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> stop_index, SliceIndex(stop));
  const int64_t step_value = step_index.value_or(1);
  if (step_value == 0) return absl::InvalidArgumentError("slice step cannot be zero");
  const bool backwards = step_value < 0;
  const auto clamp = [&](std::optional<int64_t> index, int64_t missing) {
    if (!index) return missing;
    int64_t value = *index < 0 ? *index + length : *index;
    if (value < 0) return backwards ? int64_t{-1} : int64_t{0};
    if (value >= length) return backwards ? length - 1 : length;
    return value;
  };
  return SliceBounds{clamp(start_index, backwards ? length - 1 : 0),
                     clamp(stop_index, backwards ? -1 : length), step_value};
}

template <typename Sequence>
Sequence SliceOf(const Sequence& items, const SliceBounds& bounds) {
  Sequence out;
  for (int64_t i = bounds.start; bounds.step > 0 ? i < bounds.stop : i > bounds.stop;
       i += bounds.step) {
    out.push_back(items[i]);
  }
  return out;
}

}  // namespace

absl::StatusOr<Value> GetAttr(const Value& object, absl::string_view name) {
  if (object.is_undefined()) return UndefinedError(object);
  if (std::optional<Value> method = FindMethod(object, name)) return *method;
  if (const Value* entry = FindEntry(object, name)) return *entry;
  return MissingAttribute(object, name);
}

absl::StatusOr<Value> GetItem(const Value& object, const Value& key) {
  if (object.is_undefined()) return UndefinedError(object);
  const bool integer_key = key.kind() == Value::Kind::kInt || key.kind() == Value::Kind::kBool;
  if (integer_key && (object.is_sequence() || object.is_string())) {
    const std::u32string code_points =
        object.is_string() ? DecodeUtf8(object.as_string()) : std::u32string();
    const int64_t length = object.is_string() ? static_cast<int64_t>(code_points.size())
                                              : static_cast<int64_t>(object.as_list().size());
    const int64_t index = key.as_int() < 0 ? key.as_int() + length : key.as_int();
    if (index < 0 || index >= length) {
      return MissingElement(object, key);
    }
    if (object.is_string()) return Value::String(EncodeUtf8(code_points.substr(index, 1)));
    return object.as_list()[index];
  }
  if (!key.is_string()) {
    return MissingElement(object, key);
  }
  if (const Value* entry = FindEntry(object, key.as_string())) return *entry;
  if (std::optional<Value> method = FindMethod(object, key.as_string())) return *method;
  return MissingAttribute(object, key.as_string());
}

absl::StatusOr<Value> GetSlice(const Value& object, const std::optional<Value>& start,
                               const std::optional<Value>& stop, const std::optional<Value>& step) {
  if (object.is_undefined()) return UndefinedError(object);
  if (object.is_string()) {
    const std::u32string code_points = DecodeUtf8(object.as_string());
    TESSERA_ASSIGN_OR_RETURN(
        SliceBounds bounds,
        ResolveSlice(static_cast<int64_t>(code_points.size()), start, stop, step));
    return Value::String(EncodeUtf8(SliceOf(code_points, bounds)));
  }
  if (object.is_sequence()) {
    TESSERA_ASSIGN_OR_RETURN(
        SliceBounds bounds,
        ResolveSlice(static_cast<int64_t>(object.as_list().size()), start, stop, step));
    ValueList items = SliceOf(object.as_list(), bounds);
    return object.kind() == Value::Kind::kTuple ? Value::Tuple(std::move(items))
                                                : Value::List(std::move(items));
  }
  return MissingElement(object, Value::String("slice"));
}

absl::StatusOr<ValueList> Iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return ValueList{};
    case Value::Kind::kList:
    case Value::Kind::kTuple: return value.as_list();
    case Value::Kind::kDict: {
      ValueList keys;
      for (const auto& entry : value.as_dict()) keys.push_back(Value::String(entry.first));
      return keys;
    }
    case Value::Kind::kString: {
      ValueList characters;
      for (char32_t c : DecodeUtf8(value.as_string())) {
        characters.push_back(Value::String(EncodeUtf8(std::u32string(1, c))));
      }
      return characters;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("'", TypeName(value), "' object is not iterable"));
  }
}

absl::StatusOr<int64_t> Length(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return 0;
    case Value::Kind::kString: return static_cast<int64_t>(DecodeUtf8(value.as_string()).size());
    case Value::Kind::kList:
    case Value::Kind::kTuple: return static_cast<int64_t>(value.as_list().size());
    case Value::Kind::kDict: return static_cast<int64_t>(value.as_dict().size());
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("object of type '", TypeName(value), "' has no len()"));
  }
}

}  // namespace tessera::jinja
