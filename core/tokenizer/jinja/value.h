// The values a template computes with: Python's data model as Jinja2 shows it to templates,
// cut down to JSON-shaped chat data plus what the language itself needs (undefined, tuples,
// namespace(), functions).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::jinja {

class Value;
using ValueList = std::vector<Value>;
// A Python dict: keys in insertion order. Keys are strings: chat data is JSON.
using ValueDict = std::vector<std::pair<std::string, Value>>;

// The arguments of one call, as written: positional ones, then keyword ones.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};
using NativeFunction = std::function<absl::StatusOr<Value>(const CallArgs&)>;

class Value {
 public:
  enum class Kind {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kTuple,
    kDict,
    kNamespace,
    kFunction,
  };

  // Undefined: a missing variable, key or attribute. `description` says which, for the error
  // raised when a template uses it in a way Jinja2's Undefined refuses ("'x' is undefined").
  static Value Undefined(std::string description);
  static Value None();
  static Value Bool(bool value);
  static Value Int(int64_t value);
  static Value Float(double value);
  static Value String(std::string value);
  static Value List(ValueList items);
  static Value Tuple(ValueList items);
  static Value Dict(ValueDict entries);
  // What namespace() makes: the one mutable object; every copy shares the attributes.
  static Value Namespace(ValueDict attributes);
  static Value Function(NativeFunction function);

  Value() : Value(Undefined("value is undefined")) {}

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  // A list or a tuple.
  bool is_sequence() const { return kind_ == Kind::kList || kind_ == Kind::kTuple; }
  // An int, a float or a bool (Python's bool is an int).
  bool is_number() const {
    return kind_ == Kind::kBool || kind_ == Kind::kInt || kind_ == Kind::kFloat;
  }

  // Accessors; each requires the matching kind.
  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;   // kInt or kBool
  double as_float() const;  // any number
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const ValueList& as_list() const { return *std::get<std::shared_ptr<const ValueList>>(data_); }
  const ValueDict& as_dict() const { return *std::get<std::shared_ptr<const ValueDict>>(data_); }
  ValueDict& namespace_attributes() const { return *std::get<std::shared_ptr<ValueDict>>(data_); }
  const NativeFunction& as_function() const {
    return *std::get<std::shared_ptr<const NativeFunction>>(data_);
  }
  const std::string& undefined_description() const { return std::get<std::string>(data_); }

 private:
  Value(Kind kind, auto data) : kind_(kind), data_(std::move(data)) {}

  Kind kind_;
  std::variant<std::monostate, bool, int64_t, double, std::string, std::shared_ptr<const ValueList>,
               std::shared_ptr<const ValueDict>, std::shared_ptr<ValueDict>,
               std::shared_ptr<const NativeFunction>>
      data_;
};

// Python's bool(value); undefined is false.
bool Truthy(const Value& value);

// Python's type name ("str", "dict", "NoneType"...) for error messages.
absl::string_view TypeName(const Value& value);

// The entry for `key`, or null.
const Value* FindKey(const ValueDict& dict, absl::string_view key);

}  // namespace tessera::jinja
