// Jinja2's operators, which are Python's: arithmetic, comparison and membership.
#pragma once

#include "absl/status/statusor.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

enum class ArithmeticOp { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow };
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

// `left op right` on numbers (bool counts as int; int op int stays int except for /), and
// + on two strings, lists or tuples, * on a string or list and an int. Using an undefined
// value fails with its description, as Jinja2's Undefined does.
absl::StatusOr<Value> Arithmetic(ArithmeticOp op, const Value& left, const Value& right);

// Unary minus and plus on a number.
absl::StatusOr<Value> Negate(const Value& operand);
absl::StatusOr<Value> UnaryPlus(const Value& operand);

// `left op right`; ordering compares numbers, strings, or lists/tuples item by item.
absl::StatusOr<bool> Compare(CompareOp op, const Value& left, const Value& right);

// Python's ==: numbers by value, containers item by item; dicts ignore key order. Undefined
// equals only undefined.
bool Equals(const Value& left, const Value& right);

// Python's `item in container`: substring, list item or dict key; nothing is in undefined.
absl::StatusOr<bool> Contains(const Value& container, const Value& item);

// The error for using `value` where Jinja2's Undefined refuses to be used.
absl::Status UndefinedError(const Value& value);

}  // namespace tessera::jinja
