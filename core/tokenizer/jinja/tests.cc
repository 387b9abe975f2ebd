#include "core/tokenizer/jinja/tests.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/jinja/access.h"
#include "core/tokenizer/jinja/call_args.h"
#include "core/tokenizer/jinja/operators.h"
#include "core/tokenizer/jinja/python_str.h"
#include "core/tokenizer/jinja/value_format.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

// A test of the operand alone, which cannot fail / which can.
using UnaryTest = bool (*)(const Value&);
using FallibleTest = absl::StatusOr<bool> (*)(const Value&);
// A test comparing the operand with one argument.
using BinaryTest = absl::StatusOr<bool> (*)(const Value&, const Value&);

struct TestSpec {
  absl::string_view name;
  UnaryTest unary = nullptr;
  BinaryTest binary = nullptr;
  FallibleTest fallible = nullptr;
};

bool IsKind(const Value& value, Value::Kind kind) { return value.kind() == kind; }

template <CompareOp op>
absl::StatusOr<bool> CompareTest(const Value& operand, const Value& other) {
  return Compare(op, operand, other);
}

absl::StatusOr<bool> DivisibleBy(const Value& operand, const Value& divisor) {
  TESSERA_ASSIGN_OR_RETURN(Value remainder, Arithmetic(ArithmeticOp::kMod, operand, divisor));
  return Equals(remainder, Value::Int(0));
}

absl::StatusOr<bool> IsIn(const Value& operand, const Value& container) {
  return Contains(container, operand);
}

// Whether str(value) has cased characters, all of them lower (or upper) case.
template <bool lower>
bool HasCase(const Value& value) {
  const std::string text = ToStr(value);
  const std::string lowered = Lower(text);
  const std::string uppered = Upper(text);
  return lowered != uppered && text == (lower ? lowered : uppered);
}

// odd / even: `value % 2 == 1` (or 0), as Jinja2 computes it, so 3.0 is odd too.
template <int64_t remainder>
absl::StatusOr<bool> HasRemainder(const Value& value) {
  TESSERA_ASSIGN_OR_RETURN(Value result, Arithmetic(ArithmeticOp::kMod, value, Value::Int(2)));
  return Equals(result, Value::Int(remainder));
}

const std::vector<TestSpec>& Tests() {
  static const auto* tests = new std::vector<TestSpec>{
      {"defined", [](const Value& v) { return !v.is_undefined(); }},
      {"undefined", [](const Value& v) { return v.is_undefined(); }},
      {"none", [](const Value& v) { return v.is_none(); }},
      {"boolean", [](const Value& v) { return IsKind(v, Value::Kind::kBool); }},
      {"true", [](const Value& v) { return IsKind(v, Value::Kind::kBool) && v.as_bool(); }},
      {"false", [](const Value& v) { return IsKind(v, Value::Kind::kBool) && !v.as_bool(); }},
      {"integer", [](const Value& v) { return IsKind(v, Value::Kind::kInt); }},
      {"float", [](const Value& v) { return IsKind(v, Value::Kind::kFloat); }},
      {"number", [](const Value& v) { return v.is_number(); }},
      {"string", [](const Value& v) { return v.is_string(); }},
      {"mapping", [](const Value& v) { return IsKind(v, Value::Kind::kDict); }},
      {"iterable", [](const Value& v) { return Iterate(v).ok(); }},
      // Python: has len() and indexing. Jinja2's Undefined has both.
      {"sequence", [](const Value& v) { return Length(v).ok(); }},
      {"callable", [](const Value& v) { return IsKind(v, Value::Kind::kFunction); }},
      {"odd", nullptr, nullptr, HasRemainder<1>},
      {"even", nullptr, nullptr, HasRemainder<0>},
      {"lower", HasCase<true>},
      {"upper", HasCase<false>},
      {"divisibleby", nullptr, DivisibleBy},
      {"in", nullptr, IsIn},
      {"eq", nullptr, CompareTest<CompareOp::kEq>},
      {"equalto", nullptr, CompareTest<CompareOp::kEq>},
      {"==", nullptr, CompareTest<CompareOp::kEq>},
      {"ne", nullptr, CompareTest<CompareOp::kNe>},
      {"!=", nullptr, CompareTest<CompareOp::kNe>},
      {"lt", nullptr, CompareTest<CompareOp::kLt>},
      {"lessthan", nullptr, CompareTest<CompareOp::kLt>},
      {"<", nullptr, CompareTest<CompareOp::kLt>},
      {"le", nullptr, CompareTest<CompareOp::kLe>},
      {"<=", nullptr, CompareTest<CompareOp::kLe>},
      {"gt", nullptr, CompareTest<CompareOp::kGt>},
      {"greaterthan", nullptr, CompareTest<CompareOp::kGt>},
      {">", nullptr, CompareTest<CompareOp::kGt>},
      {"ge", nullptr, CompareTest<CompareOp::kGe>},
      {">=", nullptr, CompareTest<CompareOp::kGe>},
  };
  return *tests;
}

const TestSpec* FindTest(absl::string_view name) {
  for (const TestSpec& spec : Tests()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace

bool IsKnownTest(absl::string_view name) { return FindTest(name) != nullptr; }

absl::StatusOr<bool> ApplyTest(absl::string_view name, const Value& operand, const CallArgs& args) {
  const TestSpec* spec = FindTest(name);
  if (spec == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("no test named '", name, "'"));
  const std::vector<absl::string_view> parameters =
      spec->binary ? std::vector<absl::string_view>{"other"} : std::vector<absl::string_view>{};
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::optional<Value>> bound,
                           BindArgs(args, name, parameters));
  if (spec->unary) return spec->unary(operand);
  if (spec->fallible) return spec->fallible(operand);
  if (!bound[0]) {
    return absl::InvalidArgumentError(absl::StrCat("test '", name, "' takes an argument"));
  }
  return spec->binary(operand, *bound[0]);
}

}  // namespace tessera::jinja
