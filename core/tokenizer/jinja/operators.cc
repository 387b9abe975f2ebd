#include "core/tokenizer/jinja/operators.h"

#include <cmath>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

absl::string_view Symbol(ArithmeticOp op) {
  switch (op) {
    case ArithmeticOp::kAdd: return "+";
    case ArithmeticOp::kSub: return "-";
    case ArithmeticOp::kMul: return "*";
    case ArithmeticOp::kDiv: return "/";
    case ArithmeticOp::kFloorDiv: return "//";
    case ArithmeticOp::kMod: return "%";
    case ArithmeticOp::kPow: return "**";
  }
  return "?";
}

absl::string_view Symbol(CompareOp op) {
  switch (op) {
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
    default: return "==";
  }
}

absl::Status Unsupported(absl::string_view symbol, const Value& left, const Value& right) {
  return absl::InvalidArgumentError(absl::StrCat("unsupported operand type(s) for ", symbol, ": '",
                                                 TypeName(left), "' and '", TypeName(right), "'"));
}

// Longest string (in bytes) or list a `*` repetition may make, against runaway templates.
constexpr uint64_t kMaxRepeatedLength = uint64_t{1} << 26;

absl::Status Overflow() { return absl::InvalidArgumentError("integer overflow"); }
absl::Status DivisionByZero() { return absl::InvalidArgumentError("division by zero"); }

bool IsInteger(const Value& value) {
  return value.kind() == Value::Kind::kInt || value.kind() == Value::Kind::kBool;
}

absl::StatusOr<Value> FloatArithmetic(ArithmeticOp op, double a, double b) {
  switch (op) {
    case ArithmeticOp::kAdd: return Value::Float(a + b);
    case ArithmeticOp::kSub: return Value::Float(a - b);
    case ArithmeticOp::kMul: return Value::Float(a * b);
    case ArithmeticOp::kDiv:
      if (b == 0) return DivisionByZero();
      return Value::Float(a / b);
    case ArithmeticOp::kFloorDiv:
    case ArithmeticOp::kMod: {
      if (b == 0) return DivisionByZero();
      // CPython's float divmod: the quotient from the exact remainder, not floor(a / b),
      // so that 1 // 0.1 is 9.0 as in Python.
      double remainder = std::fmod(a, b);
      double quotient = (a - remainder) / b;
      if (remainder != 0) {
        if ((b < 0) != (remainder < 0)) {
          remainder += b;
          quotient -= 1.0;
        }
      } else {
        remainder = std::copysign(0.0, b);
      }
      if (op == ArithmeticOp::kMod) return Value::Float(remainder);
      if (quotient == 0) return Value::Float(std::copysign(0.0, a / b));
      double floored = std::floor(quotient);
      if (quotient - floored > 0.5) floored += 1.0;
      return Value::Float(floored);
    }
    case ArithmeticOp::kPow: {
      if (a == 0 && b < 0) {
        return absl::InvalidArgumentError("0.0 cannot be raised to a negative power");
      }
      if (a < 0 && b != std::floor(b)) {
        return absl::InvalidArgumentError("unsupported complex result of a fractional power");
      }
      const double result = std::pow(a, b);
      if (std::isinf(result) && std::isfinite(a) && std::isfinite(b)) {
        return absl::InvalidArgumentError("numerical result out of range");
      }
      return Value::Float(result);
    }
  }
  return DivisionByZero();
}

absl::StatusOr<Value> IntegerArithmetic(ArithmeticOp op, int64_t a, int64_t b) {
  int64_t result = 0;
  switch (op) {
    case ArithmeticOp::kAdd:
      if (__builtin_add_overflow(a, b, &result)) return Overflow();
      return Value::Int(result);
    case ArithmeticOp::kSub:
      if (__builtin_sub_overflow(a, b, &result)) return Overflow();
      return Value::Int(result);
    case ArithmeticOp::kMul:
      if (__builtin_mul_overflow(a, b, &result)) return Overflow();
      return Value::Int(result);
    case ArithmeticOp::kDiv:
      if (b == 0) return DivisionByZero();
      return Value::Float(static_cast<double>(a) / static_cast<double>(b));
    case ArithmeticOp::kFloorDiv:
    case ArithmeticOp::kMod: {
      if (b == 0) return DivisionByZero();
      if (a == INT64_MIN && b == -1) return Overflow();
      // Python rounds the quotient down, so the remainder takes the divisor's sign.
      int64_t quotient = a / b;
      int64_t remainder = a % b;
      if (remainder != 0 && ((remainder < 0) != (b < 0))) {
        --quotient;
        remainder += b;
      }
      return Value::Int(op == ArithmeticOp::kMod ? remainder : quotient);
    }
    case ArithmeticOp::kPow: {
      if (b < 0) return FloatArithmetic(op, static_cast<double>(a), static_cast<double>(b));
      // Square and multiply; squaring stops once no exponent bits are left.
      result = 1;
      int64_t base = a;
      for (int64_t exponent = b; exponent > 0; exponent >>= 1) {
        if ((exponent & 1) && __builtin_mul_overflow(result, base, &result)) return Overflow();
        if (exponent > 1 && __builtin_mul_overflow(base, base, &base)) return Overflow();
      }
      return Value::Int(result);
    }
  }
  return Overflow();
}

// `sequence * count` for a string or list.
absl::StatusOr<Value> Repeat(const Value& sequence, int64_t count) {
  const size_t length =
      sequence.is_string() ? sequence.as_string().size() : sequence.as_list().size();
  if (count > 0 && length > kMaxRepeatedLength / static_cast<uint64_t>(count)) {
    return absl::InvalidArgumentError("repetition result too long");
  }
  if (sequence.is_string()) {
    std::string out;
    for (int64_t i = 0; i < count; ++i) out += sequence.as_string();
    return Value::String(std::move(out));
  }
  ValueList items;
  for (int64_t i = 0; i < count; ++i) {
    items.insert(items.end(), sequence.as_list().begin(), sequence.as_list().end());
  }
  return sequence.kind() == Value::Kind::kTuple ? Value::Tuple(std::move(items))
                                                : Value::List(std::move(items));
}

// Whether Python could use the value as a dict key: lists and dicts cannot be.
bool IsHashable(const Value& value) {
  if (value.kind() == Value::Kind::kList || value.kind() == Value::Kind::kDict) return false;
  if (value.kind() == Value::Kind::kTuple) {
    for (const Value& item : value.as_list()) {
      if (!IsHashable(item)) return false;
    }
  }
  return true;
}

// `a op b` for an ordering operator.
template <typename T>
bool Holds(CompareOp op, const T& a, const T& b) {
  switch (op) {
    case CompareOp::kLt: return a < b;
    case CompareOp::kLe: return a <= b;
    case CompareOp::kGt: return a > b;
    default: return a >= b;
  }
}

// An ordering comparison, or an error when Python has no order for the operands.
absl::StatusOr<bool> Order(CompareOp op, const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (IsInteger(left) && IsInteger(right)) return Holds(op, left.as_int(), right.as_int());
    return Holds(op, left.as_float(), right.as_float());  // NaN orders false, as in Python
  }
  // UTF-8 byte order is code point order.
  if (left.is_string() && right.is_string()) {
    return Holds(op, left.as_string(), right.as_string());
  }
  if (left.is_sequence() && left.kind() == right.kind()) {
    // The first items that differ decide; otherwise the shorter sequence is smaller.
    const ValueList& a = left.as_list();
    const ValueList& b = right.as_list();
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (!Equals(a[i], b[i])) return Order(op, a[i], b[i]);
    }
    return Holds(op, a.size(), b.size());
  }
  return absl::InvalidArgumentError(absl::StrCat("'", Symbol(op),
                                                 "' not supported between instances of '",
                                                 TypeName(left), "' and '", TypeName(right), "'"));
}

}  // namespace

absl::Status UndefinedError(const Value& value) {
  return absl::InvalidArgumentError(value.undefined_description());
}

absl::StatusOr<Value> Arithmetic(ArithmeticOp op, const Value& left, const Value& right) {
  if (left.is_undefined()) return UndefinedError(left);
  if (right.is_undefined()) return UndefinedError(right);
  if (left.is_number() && right.is_number()) {
    if (IsInteger(left) && IsInteger(right)) {
      return IntegerArithmetic(op, left.as_int(), right.as_int());
    }
    return FloatArithmetic(op, left.as_float(), right.as_float());
  }
  if (op == ArithmeticOp::kAdd && left.kind() == right.kind()) {
    if (left.is_string()) return Value::String(left.as_string() + right.as_string());
    if (left.is_sequence()) {
      ValueList items = left.as_list();
      items.insert(items.end(), right.as_list().begin(), right.as_list().end());
      return left.kind() == Value::Kind::kTuple ? Value::Tuple(std::move(items))
                                                : Value::List(std::move(items));
    }
  }
  if (op == ArithmeticOp::kMul) {
    if ((left.is_string() || left.is_sequence()) && IsInteger(right)) {
      return Repeat(left, right.as_int());
    }
    if (IsInteger(left) && (right.is_string() || right.is_sequence())) {
      return Repeat(right, left.as_int());
    }
  }
  if (op == ArithmeticOp::kAdd && (left.is_string() || left.is_sequence())) {
    return absl::InvalidArgumentError(absl::StrCat("can only concatenate ", TypeName(left),
                                                   " (not \"", TypeName(right), "\") to ",
                                                   TypeName(left)));
  }
  if (op == ArithmeticOp::kMod && left.is_string()) {
    return absl::InvalidArgumentError("printf-style string formatting (%) is not supported");
  }
  return Unsupported(Symbol(op), left, right);
}

absl::StatusOr<Value> Negate(const Value& operand) {
  if (operand.is_undefined()) return UndefinedError(operand);
  if (operand.kind() == Value::Kind::kFloat) return Value::Float(-operand.as_float());
  if (IsInteger(operand)) {
    if (operand.as_int() == INT64_MIN) return Overflow();
    return Value::Int(-operand.as_int());
  }
  return absl::InvalidArgumentError(
      absl::StrCat("bad operand type for unary -: '", TypeName(operand), "'"));
}

absl::StatusOr<Value> UnaryPlus(const Value& operand) {
  if (operand.is_undefined()) return UndefinedError(operand);
  if (operand.kind() == Value::Kind::kFloat) return operand;
  if (IsInteger(operand)) return Value::Int(operand.as_int());
  return absl::InvalidArgumentError(
      absl::StrCat("bad operand type for unary +: '", TypeName(operand), "'"));
}

bool Equals(const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (IsInteger(left) && IsInteger(right)) return left.as_int() == right.as_int();
    return left.as_float() == right.as_float();
  }
  if (left.kind() != right.kind()) return false;
  switch (left.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return left.as_string() == right.as_string();
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      const ValueList& a = left.as_list();
      const ValueList& b = right.as_list();
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!Equals(a[i], b[i])) return false;
      }
      return true;
    }
    case Value::Kind::kDict: {
      const ValueDict& a = left.as_dict();
      const ValueDict& b = right.as_dict();
      if (a.size() != b.size()) return false;
      for (const auto& [key, value] : a) {
        const Value* other = FindKey(b, key);
        if (other == nullptr || !Equals(value, *other)) return false;
      }
      return true;
    }
    case Value::Kind::kNamespace:
      return &left.namespace_attributes() == &right.namespace_attributes();
    default:  // functions compare by identity, and every bound method is new
      return false;
  }
}

absl::StatusOr<bool> Compare(CompareOp op, const Value& left, const Value& right) {
  switch (op) {
    case CompareOp::kEq: return Equals(left, right);
    case CompareOp::kNe: return !Equals(left, right);
    case CompareOp::kIn: return Contains(right, left);
    case CompareOp::kNotIn: {
      TESSERA_ASSIGN_OR_RETURN(bool contained, Contains(right, left));
      return !contained;
    }
    default: break;
  }
  if (left.is_undefined()) return UndefinedError(left);
  if (right.is_undefined()) return UndefinedError(right);
  return Order(op, left, right);
}

absl::StatusOr<bool> Contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined: return false;
    case Value::Kind::kString:
      if (!item.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("'in <string>' requires string as left operand, not ", TypeName(item)));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList:
    case Value::Kind::kTuple:
      for (const Value& element : container.as_list()) {
        if (Equals(element, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
      if (!IsHashable(item)) {
        return absl::InvalidArgumentError(absl::StrCat("unhashable type: '", TypeName(item), "'"));
      }
      return item.is_string() && FindKey(container.as_dict(), item.as_string()) != nullptr;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("argument of type '", TypeName(container), "' is not iterable"));
  }
}

}  // namespace tessera::jinja
