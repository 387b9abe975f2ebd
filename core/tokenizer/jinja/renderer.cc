#include "core/tokenizer/jinja/renderer.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/jinja/access.h"
#include "core/tokenizer/jinja/filters.h"
#include "core/tokenizer/jinja/operators.h"
#include "core/tokenizer/jinja/tests.h"
#include "core/tokenizer/jinja/value_format.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

// What a statement asks of the loop around it.
enum class Flow { kNormal, kBreak, kContinue };

absl::Status AtLine(int line, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", status.message()));
}

template <typename T>
absl::StatusOr<T> AtLine(int line, absl::StatusOr<T> result) {
  if (result.ok()) return result;
  return AtLine(line, result.status());
}

// Jinja2's `loop` variable for item `i` of `items`.
Value LoopVariable(const ValueList& items, size_t i) {
  const auto length = static_cast<int64_t>(items.size());
  const auto index = static_cast<int64_t>(i);
  ValueDict loop = {
      {"index", Value::Int(index + 1)},
      {"index0", Value::Int(index)},
      {"revindex", Value::Int(length - index)},
      {"revindex0", Value::Int(length - index - 1)},
      {"first", Value::Bool(index == 0)},
      {"last", Value::Bool(index + 1 == length)},
      {"length", Value::Int(length)},
      {"previtem", index > 0 ? items[i - 1] : Value::Undefined("there is no previous item")},
      {"nextitem", index + 1 < length ? items[i + 1] : Value::Undefined("there is no next item")},
      {"depth", Value::Int(1)},
      {"depth0", Value::Int(0)},
      {"cycle", Value::Function([i](const CallArgs& args) -> absl::StatusOr<Value> {
         if (args.positional.empty()) {
           return absl::InvalidArgumentError("no items for cycling given");
         }
         return args.positional[i % args.positional.size()];
       })},
  };
  return Value::Dict(std::move(loop));
}

class Renderer {
 public:
  explicit Renderer(const ValueDict& context) {
    scopes_.emplace_back(context.begin(), context.end());
  }

  absl::StatusOr<std::string> Run(const Body& body) {
    TESSERA_RETURN_IF_ERROR(ExecBody(body).status());
    return std::move(out_);
  }

 private:
  using Scope = absl::flat_hash_map<std::string, Value>;

  // A scope for the lifetime of the guard.
  class ScopeGuard {
   public:
    explicit ScopeGuard(std::vector<Scope>& scopes) : scopes_(scopes) { scopes_.emplace_back(); }
    ~ScopeGuard() { scopes_.pop_back(); }

   private:
    std::vector<Scope>& scopes_;
  };

  Value Lookup(const std::string& name) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      if (auto it = scope->find(name); it != scope->end()) return it->second;
    }
    return Value::Undefined(absl::StrCat("'", name, "' is undefined"));
  }

  absl::Status Assign(int line, const AssignTarget& target, const Value& value) {
    if (target.attribute) {
      const Value object = Lookup(target.names[0]);
      if (object.kind() != Value::Kind::kNamespace) {
        return AtLine(
            line, absl::InvalidArgumentError("cannot assign attribute on non-namespace object"));
      }
      ValueDict& attributes = object.namespace_attributes();
      for (auto& [name, attribute] : attributes) {
        if (name == *target.attribute) {
          attribute = value;
          return absl::OkStatus();
        }
      }
      attributes.emplace_back(*target.attribute, value);
      return absl::OkStatus();
    }
    if (!target.unpack) {
      scopes_.back()[target.names[0]] = value;
      return absl::OkStatus();
    }
    TESSERA_ASSIGN_OR_RETURN(ValueList items, AtLine(line, Iterate(value)));
    if (items.size() != target.names.size()) {
      return AtLine(line, absl::InvalidArgumentError(absl::StrCat("cannot unpack ", items.size(),
                                                                  " values into ",
                                                                  target.names.size(), " names")));
    }
    for (size_t i = 0; i < items.size(); ++i) scopes_.back()[target.names[i]] = items[i];
    return absl::OkStatus();
  }

  // ---- Statements

  absl::StatusOr<Flow> ExecBody(const Body& body) {
    for (const auto& stmt : body) {
      TESSERA_ASSIGN_OR_RETURN(
          Flow flow,
          std::visit([&](const auto& node) { return Exec(stmt->line, node); }, stmt->node));
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  absl::StatusOr<Flow> Exec(int, const TextStmt& node) {
    out_ += node.text;
    return Flow::kNormal;
  }

  absl::StatusOr<Flow> Exec(int line, const OutputStmt& node) {
    TESSERA_ASSIGN_OR_RETURN(Value value, Eval(*node.expr));
    if (value.kind() == Value::Kind::kFunction) {
      return AtLine(line, absl::InvalidArgumentError("cannot print a function (call it?)"));
    }
    out_ += ToStr(value);
    return Flow::kNormal;
  }

  absl::StatusOr<Flow> Exec(int, const IfStmt& node) {
    for (const auto& [condition, body] : node.branches) {
      TESSERA_ASSIGN_OR_RETURN(Value test, Eval(*condition));
      if (Truthy(test)) return ExecBody(body);
    }
    return ExecBody(node.otherwise);
  }

  absl::StatusOr<Flow> Exec(int line, const ForStmt& node) {
    TESSERA_ASSIGN_OR_RETURN(Value iterable, Eval(*node.iterable));
    TESSERA_ASSIGN_OR_RETURN(ValueList items, AtLine(line, Iterate(iterable)));
    if (node.filter != nullptr) {
      ValueList kept;
      for (const Value& item : items) {
        ScopeGuard scope(scopes_);
        TESSERA_RETURN_IF_ERROR(Assign(line, node.target, item));
        TESSERA_ASSIGN_OR_RETURN(Value keep, Eval(*node.filter));
        if (Truthy(keep)) kept.push_back(item);
      }
      items = std::move(kept);
    }
    // Jinja2 runs `else` unless some iteration reached the end of the body: a loop whose
    // iterations all end in break or continue runs it too.
    bool body_completed = false;
    for (size_t i = 0; i < items.size(); ++i) {
      ScopeGuard scope(scopes_);
      TESSERA_RETURN_IF_ERROR(Assign(line, node.target, items[i]));
      scopes_.back()["loop"] = LoopVariable(items, i);
      TESSERA_ASSIGN_OR_RETURN(Flow flow, ExecBody(node.body));
      if (flow == Flow::kBreak) break;
      if (flow == Flow::kNormal) body_completed = true;
    }
    if (body_completed) return Flow::kNormal;
    // `else` is outside this loop: its break or continue is for the loop around it.
    ScopeGuard scope(scopes_);
    return ExecBody(node.otherwise);
  }

  absl::StatusOr<Flow> Exec(int line, const SetStmt& node) {
    TESSERA_ASSIGN_OR_RETURN(Value value, Eval(*node.value));
    TESSERA_RETURN_IF_ERROR(Assign(line, node.target, value));
    return Flow::kNormal;
  }

  absl::StatusOr<Flow> Exec(int, const LoopControlStmt& node) {
    return node.is_break ? Flow::kBreak : Flow::kContinue;
  }

  absl::StatusOr<Flow> Exec(int, const GenerationStmt& node) {
    ScopeGuard scope(scopes_);
    return ExecBody(node.body);
  }

  // ---- Expressions

  absl::StatusOr<Value> Eval(const Expr& expr) {
    return std::visit([&](const auto& node) { return Eval(expr.line, node); }, expr.node);
  }

  absl::StatusOr<Value> Eval(int, const LiteralExpr& node) { return node.value; }

  absl::StatusOr<Value> Eval(int, const NameExpr& node) { return Lookup(node.name); }

  absl::StatusOr<Value> Eval(int, const ListExpr& node) {
    ValueList items;
    for (const ExprPtr& item : node.items) {
      TESSERA_ASSIGN_OR_RETURN(Value value, Eval(*item));
      items.push_back(std::move(value));
    }
    return node.tuple ? Value::Tuple(std::move(items)) : Value::List(std::move(items));
  }

  absl::StatusOr<Value> Eval(int line, const DictExpr& node) {
    ValueDict entries;
    for (const auto& [key_expr, value_expr] : node.entries) {
      TESSERA_ASSIGN_OR_RETURN(Value key, Eval(*key_expr));
      TESSERA_ASSIGN_OR_RETURN(Value value, Eval(*value_expr));
      if (!key.is_string()) {
        return AtLine(line, absl::InvalidArgumentError("unsupported non-string dict key"));
      }
      bool replaced = false;
      for (auto& entry : entries) {
        if (entry.first == key.as_string()) {
          entry.second = value;
          replaced = true;
        }
      }
      if (!replaced) entries.emplace_back(key.as_string(), std::move(value));
    }
    return Value::Dict(std::move(entries));
  }

  absl::StatusOr<Value> Eval(int line, const AttributeExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value object, Eval(*node.object));
    return AtLine(line, GetAttr(object, node.name));
  }

  absl::StatusOr<Value> Eval(int line, const ItemExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value object, Eval(*node.object));
    TESSERA_ASSIGN_OR_RETURN(Value key, Eval(*node.key));
    return AtLine(line, GetItem(object, key));
  }

  absl::StatusOr<Value> Eval(int line, const SliceExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value object, Eval(*node.object));
    std::optional<Value> bounds[3];
    const ExprPtr* parts[3] = {&node.start, &node.stop, &node.step};
    for (int i = 0; i < 3; ++i) {
      if (*parts[i] == nullptr) continue;
      TESSERA_ASSIGN_OR_RETURN(bounds[i], Eval(**parts[i]));
    }
    return AtLine(line, GetSlice(object, bounds[0], bounds[1], bounds[2]));
  }

  absl::StatusOr<CallArgs> EvalArgs(const CallArguments& args) {
    CallArgs values;
    for (const ExprPtr& arg : args.positional) {
      TESSERA_ASSIGN_OR_RETURN(Value value, Eval(*arg));
      values.positional.push_back(std::move(value));
    }
    for (const auto& [name, arg] : args.keyword) {
      TESSERA_ASSIGN_OR_RETURN(Value value, Eval(*arg));
      values.keyword.emplace_back(name, std::move(value));
    }
    return values;
  }

  absl::StatusOr<Value> Eval(int line, const CallExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value callee, Eval(*node.callee));
    TESSERA_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(node.args));
    if (callee.is_undefined()) return AtLine(line, UndefinedError(callee));
    if (callee.kind() != Value::Kind::kFunction) {
      return AtLine(line, absl::InvalidArgumentError(
                              absl::StrCat("'", TypeName(callee), "' object is not callable")));
    }
    return AtLine(line, callee.as_function()(args));
  }

  absl::StatusOr<Value> Eval(int line, const FilterExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value operand, Eval(*node.operand));
    TESSERA_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(node.args));
    return AtLine(line, ApplyFilter(node.name, operand, args));
  }

  absl::StatusOr<Value> Eval(int line, const TestExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value operand, Eval(*node.operand));
    TESSERA_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(node.args));
    TESSERA_ASSIGN_OR_RETURN(bool passes, AtLine(line, ApplyTest(node.name, operand, args)));
    return Value::Bool(passes);
  }

  absl::StatusOr<Value> Eval(int, const NotExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value operand, Eval(*node.operand));
    return Value::Bool(!Truthy(operand));
  }

  absl::StatusOr<Value> Eval(int line, const NegateExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value operand, Eval(*node.operand));
    return AtLine(line, node.minus ? Negate(operand) : UnaryPlus(operand));
  }

  absl::StatusOr<Value> Eval(int line, const ArithmeticExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value left, Eval(*node.left));
    TESSERA_ASSIGN_OR_RETURN(Value right, Eval(*node.right));
    return AtLine(line, Arithmetic(node.op, left, right));
  }

  absl::StatusOr<Value> Eval(int, const ConcatExpr& node) {
    std::string text;
    for (const ExprPtr& part : node.parts) {
      TESSERA_ASSIGN_OR_RETURN(Value value, Eval(*part));
      text += ToStr(value);
    }
    return Value::String(std::move(text));
  }

  absl::StatusOr<Value> Eval(int, const LogicalExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value left, Eval(*node.left));
    // Python's and/or give back the operand that decided.
    if (Truthy(left) != node.is_and) return left;
    return Eval(*node.right);
  }

  absl::StatusOr<Value> Eval(int line, const CompareExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value left, Eval(*node.first));
    for (const auto& [op, operand] : node.rest) {
      TESSERA_ASSIGN_OR_RETURN(Value right, Eval(*operand));
      TESSERA_ASSIGN_OR_RETURN(bool holds, AtLine(line, Compare(op, left, right)));
      if (!holds) return Value::Bool(false);
      left = std::move(right);
    }
    return Value::Bool(true);
  }

  absl::StatusOr<Value> Eval(int line, const ConditionalExpr& node) {
    TESSERA_ASSIGN_OR_RETURN(Value condition, Eval(*node.condition));
    if (Truthy(condition)) return Eval(*node.then);
    if (node.otherwise == nullptr) {
      return Value::Undefined(absl::StrCat("the inline if-expression on line ", line,
                                           " evaluated to false and no else section was defined."));
    }
    return Eval(*node.otherwise);
  }

  std::vector<Scope> scopes_;
  std::string out_;
};

}  // namespace

absl::StatusOr<std::string> RenderBody(const Body& body, const ValueDict& context) {
  return Renderer(context).Run(body);
}

}  // namespace tessera::jinja
