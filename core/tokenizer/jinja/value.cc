#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

Value Value::Undefined(std::string description) {
  return Value(Kind::kUndefined, std::move(description));
}
Value Value::None() { return Value(Kind::kNone, std::monostate{}); }
Value Value::Bool(bool value) { return Value(Kind::kBool, value); }
Value Value::Int(int64_t value) { return Value(Kind::kInt, value); }
Value Value::Float(double value) { return Value(Kind::kFloat, value); }
Value Value::String(std::string value) { return Value(Kind::kString, std::move(value)); }
Value Value::List(ValueList items) {
  return Value(Kind::kList, std::make_shared<const ValueList>(std::move(items)));
}
Value Value::Tuple(ValueList items) {
  return Value(Kind::kTuple, std::make_shared<const ValueList>(std::move(items)));
}
Value Value::Dict(ValueDict entries) {
  return Value(Kind::kDict, std::make_shared<const ValueDict>(std::move(entries)));
}
Value Value::Namespace(ValueDict attributes) {
  return Value(Kind::kNamespace, std::make_shared<ValueDict>(std::move(attributes)));
}
Value Value::Function(NativeFunction function) {
  return Value(Kind::kFunction, std::make_shared<const NativeFunction>(std::move(function)));
}

int64_t Value::as_int() const {
  return kind_ == Kind::kBool ? static_cast<int64_t>(as_bool()) : std::get<int64_t>(data_);
}

double Value::as_float() const {
  return kind_ == Kind::kFloat ? std::get<double>(data_) : static_cast<double>(as_int());
}

bool Truthy(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return false;
    case Value::Kind::kBool: return value.as_bool();
    case Value::Kind::kInt: return value.as_int() != 0;
    case Value::Kind::kFloat: return value.as_float() != 0.0;
    case Value::Kind::kString: return !value.as_string().empty();
    case Value::Kind::kList:
    case Value::Kind::kTuple: return !value.as_list().empty();
    case Value::Kind::kDict: return !value.as_dict().empty();
    case Value::Kind::kNamespace:
    case Value::Kind::kFunction: return true;
  }
  return false;
}

absl::string_view TypeName(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return "Undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kList: return "list";
    case Value::Kind::kTuple: return "tuple";
    case Value::Kind::kDict: return "dict";
    case Value::Kind::kNamespace: return "Namespace";
    case Value::Kind::kFunction: return "function";
  }
  return "object";
}

const Value* FindKey(const ValueDict& dict, absl::string_view key) {
  for (const auto& [entry_key, entry_value] : dict) {
    if (entry_key == key) return &entry_value;
  }
  return nullptr;
}

}  // namespace tessera::jinja
