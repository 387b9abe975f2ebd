// The syntax tree of a parsed template: expressions and statements, each with its line.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/tokenizer/jinja/operators.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct CallArguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct LiteralExpr { Value value; };
struct NameExpr { std::string name; };
struct ListExpr { std::vector<ExprPtr> items; bool tuple = false; };
struct DictExpr { std::vector<std::pair<ExprPtr, ExprPtr>> entries; };
struct AttributeExpr { ExprPtr object; std::string name; };
struct ItemExpr { ExprPtr object; ExprPtr key; };
// `object[start:stop:step]`; omitted parts are null.
struct SliceExpr { ExprPtr object; ExprPtr start; ExprPtr stop; ExprPtr step; };
struct CallExpr { ExprPtr callee; CallArguments args; };
// `operand | name(args)`
struct FilterExpr { ExprPtr operand; std::string name; CallArguments args; };
// `operand is name(args)`; `is not` is a NotExpr around it.
struct TestExpr { ExprPtr operand; std::string name; CallArguments args; };
struct NotExpr { ExprPtr operand; };
struct NegateExpr { ExprPtr operand; bool minus = true; };  // unary - (or + when !minus)
struct ArithmeticExpr { ArithmeticOp op; ExprPtr left; ExprPtr right; };
// `a ~ b ~ c`: the parts as strings, joined.
struct ConcatExpr { std::vector<ExprPtr> parts; };
// `a and b` / `a or b`: Python's, giving one of the operands.
struct LogicalExpr { bool is_and; ExprPtr left; ExprPtr right; };
// `a < b <= c`: chained as in Python.
struct CompareExpr { ExprPtr first; std::vector<std::pair<CompareOp, ExprPtr>> rest; };
// `then if condition else otherwise`; without `else`, undefined when the condition fails.
struct ConditionalExpr { ExprPtr condition; ExprPtr then; ExprPtr otherwise; };

struct Expr {
  int line = 0;
  std::variant<LiteralExpr, NameExpr, ListExpr, DictExpr, AttributeExpr, ItemExpr, SliceExpr,
               CallExpr, FilterExpr, TestExpr, NotExpr, NegateExpr, ArithmeticExpr, ConcatExpr,
               LogicalExpr, CompareExpr, ConditionalExpr>
      node;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

// What `set` and `for` assign to: one name, names unpacked from a sequence (`a, b`), or a
// namespace attribute (`ns.attr`, `set` only).
struct AssignTarget {
  std::vector<std::string> names;
  bool unpack = false;
  std::optional<std::string> attribute;
};

struct TextStmt { std::string text; };
struct OutputStmt { ExprPtr expr; };
struct IfStmt {
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, then each elif
  Body otherwise;
};
struct ForStmt {
  AssignTarget target;
  ExprPtr iterable;
  ExprPtr filter;  // `for x in xs if cond`; null without one
  Body body;
  Body otherwise;  // runs when no item passed
};
struct SetStmt { AssignTarget target; ExprPtr value; };
struct LoopControlStmt { bool is_break; };
// transformers' {% generation %} block: marks assistant text, renders its body unchanged.
struct GenerationStmt { Body body; };

struct Stmt {
  int line = 0;
  std::variant<TextStmt, OutputStmt, IfStmt, ForStmt, SetStmt, LoopControlStmt, GenerationStmt>
      node;
};

}  // namespace tessera::jinja
