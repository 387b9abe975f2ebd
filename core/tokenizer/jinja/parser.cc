#include "core/tokenizer/jinja/parser.h"

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/jinja/filters.h"
#include "core/tokenizer/jinja/tests.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

// Jinja2 tags this subset does not implement, for a clearer error than "unknown tag".
constexpr absl::string_view kUnsupportedTags[] = {
    "macro",   "call",  "filter", "include",    "import", "from",
    "extends", "block", "with",   "autoescape", "do",
};

constexpr std::pair<absl::string_view, CompareOp> kCompareOperators[] = {
    {"==", CompareOp::kEq}, {"!=", CompareOp::kNe}, {"<", CompareOp::kLt},
    {"<=", CompareOp::kLe}, {">", CompareOp::kGt},  {">=", CompareOp::kGe},
};

template <typename Node>
ExprPtr MakeExpr(int line, Node node) {
  return std::make_unique<Expr>(Expr{line, std::move(node)});
}

template <typename Node>
std::unique_ptr<Stmt> MakeStmt(int line, Node node) {
  return std::make_unique<Stmt>(Stmt{line, std::move(node)});
}

std::string Describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kText: return "template text";
    case TokenKind::kVariableBegin: return "'{{'";
    case TokenKind::kVariableEnd: return "end of print statement";
    case TokenKind::kBlockBegin: return "'{%'";
    case TokenKind::kBlockEnd: return "end of statement block";
    case TokenKind::kName: return absl::StrCat("'", token.text, "'");
    case TokenKind::kString: return "string literal";
    case TokenKind::kInteger:
    case TokenKind::kFloat: return "number";
    case TokenKind::kOperator: return absl::StrCat("'", token.text, "'");
    case TokenKind::kEnd: return "end of template";
  }
  return "token";
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<Body> ParseTemplate() { return ParseUntil({}); }

 private:
  // Nesting of statements and expressions deeper than this is refused, to bound recursion.
  static constexpr int kMaxNesting = 200;

  // Counts one level of nesting while alive.
  class NestingGuard {
   public:
    explicit NestingGuard(int& depth) : depth_(depth) { ++depth_; }
    ~NestingGuard() { --depth_; }

   private:
    int& depth_;
  };

  absl::Status CheckNesting() const {
    if (nesting_ <= kMaxNesting) return absl::OkStatus();
    return Error(Current(), "template nested too deeply");
  }

  // ---- Token stream

  const Token& Current() const { return tokens_[pos_]; }
  const Token& Next() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  const Token& Advance() {
    const Token& token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }

  bool AtOperator(absl::string_view op) const {
    return Current().kind == TokenKind::kOperator && Current().text == op;
  }
  bool AtName(absl::string_view name) const {
    return Current().kind == TokenKind::kName && Current().text == name;
  }
  bool SkipOperator(absl::string_view op) {
    if (!AtOperator(op)) return false;
    Advance();
    return true;
  }
  bool SkipName(absl::string_view name) {
    if (!AtName(name)) return false;
    Advance();
    return true;
  }

  absl::Status Error(const Token& token, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", token.line, ": ", message));
  }

  absl::Status ExpectOperator(absl::string_view op) {
    if (SkipOperator(op)) return absl::OkStatus();
    return Error(Current(), absl::StrCat("expected '", op, "', got ", Describe(Current())));
  }

  absl::Status ExpectKind(TokenKind kind, absl::string_view what) {
    if (Current().kind == kind) {
      Advance();
      return absl::OkStatus();
    }
    return Error(Current(), absl::StrCat("expected ", what, ", got ", Describe(Current())));
  }

  absl::StatusOr<std::string> ExpectName() {
    if (Current().kind != TokenKind::kName) {
      return Error(Current(), absl::StrCat("expected a name, got ", Describe(Current())));
    }
    return Advance().text;
  }

  // ---- Statements

  // Template text, prints and tags up to a `{% name %}` with `name` in `end_tags`, which is left
  // as the current token (the end of the template when `end_tags` is empty).
  absl::StatusOr<Body> ParseUntil(std::initializer_list<absl::string_view> end_tags) {
    Body body;
    while (Current().kind != TokenKind::kEnd) {
      const Token& token = Current();
      if (token.kind == TokenKind::kText) {
        body.push_back(MakeStmt(token.line, TextStmt{token.text}));
        Advance();
      } else if (token.kind == TokenKind::kVariableBegin) {
        Advance();
        TESSERA_ASSIGN_OR_RETURN(ExprPtr expr, ParseTuple(/*with_conditional=*/true));
        TESSERA_RETURN_IF_ERROR(ExpectKind(TokenKind::kVariableEnd, "'}}'"));
        body.push_back(MakeStmt(token.line, OutputStmt{std::move(expr)}));
      } else if (token.kind == TokenKind::kBlockBegin) {
        Advance();
        for (absl::string_view end_tag : end_tags) {
          if (AtName(end_tag)) return body;
        }
        TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<Stmt> stmt, ParseStatement());
        TESSERA_RETURN_IF_ERROR(ExpectKind(TokenKind::kBlockEnd, "'%}'"));
        body.push_back(std::move(stmt));
      } else {
        return Error(token, absl::StrCat("unexpected ", Describe(token)));
      }
    }
    if (end_tags.size() > 0) {
      // The last end tag is the one that closes the block.
      return Error(Current(), absl::StrCat("unexpected end of template, expected '",
                                           *(end_tags.end() - 1), "'"));
    }
    return body;
  }

  // The body of a block tag, from its closing "%}" to one of `end_tags` (consumed).
  absl::StatusOr<Body> ParseBlockBody(std::initializer_list<absl::string_view> end_tags,
                                      std::string* end_tag = nullptr) {
    TESSERA_RETURN_IF_ERROR(ExpectKind(TokenKind::kBlockEnd, "'%}'"));
    TESSERA_ASSIGN_OR_RETURN(Body body, ParseUntil(end_tags));
    const std::string tag = Advance().text;
    if (end_tag != nullptr) *end_tag = tag;
    return body;
  }

  // After "{%": the tag and its arguments, up to (not including) its "%}".
  absl::StatusOr<std::unique_ptr<Stmt>> ParseStatement() {
    NestingGuard nesting(nesting_);
    TESSERA_RETURN_IF_ERROR(CheckNesting());
    const Token& token = Current();
    if (token.kind != TokenKind::kName) return Error(token, "tag name expected");
    const std::string tag = token.text;
    for (absl::string_view unsupported : kUnsupportedTags) {
      if (tag == unsupported) return Error(token, absl::StrCat("unsupported tag '", tag, "'"));
    }
    Advance();
    if (tag == "if") return ParseIf(token.line);
    if (tag == "for") return ParseFor(token.line);
    if (tag == "set") return ParseSet(token.line);
    if (tag == "print") {
      TESSERA_ASSIGN_OR_RETURN(ExprPtr expr, ParseTuple(/*with_conditional=*/true));
      return MakeStmt(token.line, OutputStmt{std::move(expr)});
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) return Error(token, absl::StrCat("'", tag, "' outside a loop"));
      return MakeStmt(token.line, LoopControlStmt{tag == "break"});
    }
    if (tag == "generation") {
      TESSERA_ASSIGN_OR_RETURN(Body body, ParseBlockBody({"endgeneration"}));
      return MakeStmt(token.line, GenerationStmt{std::move(body)});
    }
    return Error(token, absl::StrCat("unknown tag '", tag, "'"));
  }

  absl::StatusOr<std::unique_ptr<Stmt>> ParseIf(int line) {
    IfStmt node;
    std::string end_tag;
    do {
      TESSERA_ASSIGN_OR_RETURN(ExprPtr condition, ParseTuple(/*with_conditional=*/false));
      TESSERA_ASSIGN_OR_RETURN(Body body, ParseBlockBody({"elif", "else", "endif"}, &end_tag));
      node.branches.emplace_back(std::move(condition), std::move(body));
    } while (end_tag == "elif");
    if (end_tag == "else") {
      TESSERA_ASSIGN_OR_RETURN(node.otherwise, ParseBlockBody({"endif"}));
    }
    return MakeStmt(line, std::move(node));
  }

  absl::StatusOr<std::unique_ptr<Stmt>> ParseFor(int line) {
    ForStmt node;
    TESSERA_ASSIGN_OR_RETURN(node.target, ParseAssignTarget(/*allow_namespace=*/false));
    if (!SkipName("in")) {
      return Error(Current(), absl::StrCat("expected 'in', got ", Describe(Current())));
    }
    TESSERA_ASSIGN_OR_RETURN(node.iterable, ParseTuple(/*with_conditional=*/false, "recursive"));
    if (SkipName("if")) {
      TESSERA_ASSIGN_OR_RETURN(node.filter, ParseExpression(/*with_conditional=*/true));
    }
    if (AtName("recursive")) return Error(Current(), "unsupported recursive for loop");
    ++loop_depth_;
    std::string end_tag;
    absl::StatusOr<Body> body = ParseBlockBody({"else", "endfor"}, &end_tag);
    --loop_depth_;
    if (!body.ok()) return body.status();
    node.body = *std::move(body);
    if (end_tag == "else") {
      TESSERA_ASSIGN_OR_RETURN(node.otherwise, ParseBlockBody({"endfor"}));
    }
    return MakeStmt(line, std::move(node));
  }

  absl::StatusOr<std::unique_ptr<Stmt>> ParseSet(int line) {
    SetStmt node;
    TESSERA_ASSIGN_OR_RETURN(node.target, ParseAssignTarget(/*allow_namespace=*/true));
    if (!SkipOperator("=")) {
      return Error(Current(), "unsupported block form of 'set' (expected '=')");
    }
    TESSERA_ASSIGN_OR_RETURN(node.value, ParseTuple(/*with_conditional=*/true));
    return MakeStmt(line, std::move(node));
  }

  // `name`, `a, b` or (with `allow_namespace`) `ns.attr`.
  absl::StatusOr<AssignTarget> ParseAssignTarget(bool allow_namespace) {
    AssignTarget target;
    if (allow_namespace && Current().kind == TokenKind::kName &&
        Next().kind == TokenKind::kOperator && Next().text == ".") {
      target.names.push_back(Advance().text);
      Advance();  // "."
      TESSERA_ASSIGN_OR_RETURN(target.attribute, ExpectName());
      return target;
    }
    do {
      const Token& token = Current();
      TESSERA_ASSIGN_OR_RETURN(std::string name, ExpectName());
      if (name == "true" || name == "false" || name == "none" || name == "True" ||
          name == "False" || name == "None") {
        return Error(token, absl::StrCat("can't assign to '", name, "'"));
      }
      target.names.push_back(std::move(name));
      if (!AtOperator(",")) break;
      Advance();
      target.unpack = true;
    } while (Current().kind == TokenKind::kName && !AtName("in"));
    return target;
  }

  // ---- Expressions, loosest binding first

  bool AtTupleEnd(absl::string_view extra_end_name) const {
    return Current().kind == TokenKind::kVariableEnd || Current().kind == TokenKind::kBlockEnd ||
           AtOperator(")") || (!extra_end_name.empty() && AtName(extra_end_name));
  }

  // Expressions separated by commas make a tuple; one expression stays itself.
  absl::StatusOr<ExprPtr> ParseTuple(bool with_conditional, absl::string_view extra_end_name = "",
                                     bool in_parentheses = false) {
    const int line = Current().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) TESSERA_RETURN_IF_ERROR(ExpectOperator(","));
      if (AtTupleEnd(extra_end_name)) break;
      TESSERA_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression(with_conditional));
      items.push_back(std::move(item));
      if (!AtOperator(",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items.front());
      if (!in_parentheses) {
        return Error(Current(), absl::StrCat("expected an expression, got ", Describe(Current())));
      }
    }
    return MakeExpr(line, ListExpr{std::move(items), /*tuple=*/true});
  }

  absl::StatusOr<ExprPtr> ParseExpression(bool with_conditional) {
    return with_conditional ? ParseConditional() : ParseOr();
  }

  absl::StatusOr<ExprPtr> ParseConditional() {
    TESSERA_ASSIGN_OR_RETURN(ExprPtr expr, ParseOr());
    while (AtName("if")) {
      const int line = Advance().line;
      ConditionalExpr node;
      node.then = std::move(expr);
      TESSERA_ASSIGN_OR_RETURN(node.condition, ParseOr());
      if (SkipName("else")) {
        TESSERA_ASSIGN_OR_RETURN(node.otherwise, ParseConditional());
      }
      expr = MakeExpr(line, std::move(node));
    }
    return expr;
  }

  absl::StatusOr<ExprPtr> ParseOr() { return ParseLogical(/*is_and=*/false); }

  absl::StatusOr<ExprPtr> ParseLogical(bool is_and) {
    TESSERA_ASSIGN_OR_RETURN(ExprPtr left, is_and ? ParseNot() : ParseLogical(true));
    while (AtName(is_and ? "and" : "or")) {
      const int line = Advance().line;
      TESSERA_ASSIGN_OR_RETURN(ExprPtr right, is_and ? ParseNot() : ParseLogical(true));
      left = MakeExpr(line, LogicalExpr{is_and, std::move(left), std::move(right)});
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseNot() {
    NestingGuard nesting(nesting_);
    TESSERA_RETURN_IF_ERROR(CheckNesting());
    if (AtName("not")) {
      const int line = Advance().line;
      TESSERA_ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
      return MakeExpr(line, NotExpr{std::move(operand)});
    }
    return ParseCompare();
  }

  absl::StatusOr<ExprPtr> ParseCompare() {
    const int line = Current().line;
    TESSERA_ASSIGN_OR_RETURN(ExprPtr first, ParseSum());
    CompareExpr node;
    while (true) {
      std::optional<CompareOp> op;
      for (const auto& [symbol, compare_op] : kCompareOperators) {
        if (AtOperator(symbol)) op = compare_op;
      }
      if (op) {
        Advance();
      } else if (SkipName("in")) {
        op = CompareOp::kIn;
      } else if (AtName("not") && Next().kind == TokenKind::kName && Next().text == "in") {
        Advance();
        Advance();
        op = CompareOp::kNotIn;
      } else {
        break;
      }
      TESSERA_ASSIGN_OR_RETURN(ExprPtr operand, ParseSum());
      node.rest.emplace_back(*op, std::move(operand));
    }
    if (node.rest.empty()) return first;
    node.first = std::move(first);
    return MakeExpr(line, std::move(node));
  }

  // + and -
  absl::StatusOr<ExprPtr> ParseSum() {
    TESSERA_ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
    while (AtOperator("+") || AtOperator("-")) {
      const Token& op = Advance();
      const ArithmeticOp kind = op.text == "+" ? ArithmeticOp::kAdd : ArithmeticOp::kSub;
      TESSERA_ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
      left = MakeExpr(op.line, ArithmeticExpr{kind, std::move(left), std::move(right)});
    }
    return left;
  }

  // ~
  absl::StatusOr<ExprPtr> ParseConcat() {
    const int line = Current().line;
    TESSERA_ASSIGN_OR_RETURN(ExprPtr first, ParseProduct());
    if (!AtOperator("~")) return first;
    ConcatExpr node;
    node.parts.push_back(std::move(first));
    while (SkipOperator("~")) {
      TESSERA_ASSIGN_OR_RETURN(ExprPtr part, ParseProduct());
      node.parts.push_back(std::move(part));
    }
    return MakeExpr(line, std::move(node));
  }

  // *, /, //, %
  absl::StatusOr<ExprPtr> ParseProduct() {
    TESSERA_ASSIGN_OR_RETURN(ExprPtr left, ParsePower());
    while (true) {
      std::optional<ArithmeticOp> kind;
      if (AtOperator("*")) kind = ArithmeticOp::kMul;
      if (AtOperator("/")) kind = ArithmeticOp::kDiv;
      if (AtOperator("//")) kind = ArithmeticOp::kFloorDiv;
      if (AtOperator("%")) kind = ArithmeticOp::kMod;
      if (!kind) return left;
      const int line = Advance().line;
      TESSERA_ASSIGN_OR_RETURN(ExprPtr right, ParsePower());
      left = MakeExpr(line, ArithmeticExpr{*kind, std::move(left), std::move(right)});
    }
  }

  // ** (left-associative in Jinja2)
  absl::StatusOr<ExprPtr> ParsePower() {
    TESSERA_ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(/*with_filters=*/true));
    while (AtOperator("**")) {
      const int line = Advance().line;
      TESSERA_ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(/*with_filters=*/true));
      left = MakeExpr(line, ArithmeticExpr{ArithmeticOp::kPow, std::move(left), std::move(right)});
    }
    return left;
  }

  // Unary minus binds tighter than everything but postfix: `-x|abs` is abs(-x).
  absl::StatusOr<ExprPtr> ParseUnary(bool with_filters) {
    NestingGuard nesting(nesting_);
    TESSERA_RETURN_IF_ERROR(CheckNesting());
    ExprPtr node;
    if (AtOperator("-") || AtOperator("+")) {
      const Token& sign = Advance();
      TESSERA_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary(/*with_filters=*/false));
      node = MakeExpr(sign.line, NegateExpr{std::move(operand), sign.text == "-"});
    } else {
      TESSERA_ASSIGN_OR_RETURN(node, ParsePrimary());
    }
    TESSERA_ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
    if (!with_filters) return node;
    return ParseFilters(std::move(node));
  }

  absl::StatusOr<ExprPtr> ParsePrimary() {
    const Token& token = Current();
    switch (token.kind) {
      case TokenKind::kName: {
        Advance();
        if (token.text == "true" || token.text == "True") {
          return MakeExpr(token.line, LiteralExpr{Value::Bool(true)});
        }
        if (token.text == "false" || token.text == "False") {
          return MakeExpr(token.line, LiteralExpr{Value::Bool(false)});
        }
        if (token.text == "none" || token.text == "None") {
          return MakeExpr(token.line, LiteralExpr{Value::None()});
        }
        return MakeExpr(token.line, NameExpr{token.text});
      }
      case TokenKind::kString: {
        // Adjacent string literals join, as in Python.
        std::string text;
        while (Current().kind == TokenKind::kString) text += Advance().text;
        return MakeExpr(token.line, LiteralExpr{Value::String(std::move(text))});
      }
      case TokenKind::kInteger:
        Advance();
        return MakeExpr(token.line, LiteralExpr{Value::Int(token.integer)});
      case TokenKind::kFloat:
        Advance();
        return MakeExpr(token.line, LiteralExpr{Value::Float(token.number)});
      case TokenKind::kOperator:
        if (token.text == "(") {
          Advance();
          TESSERA_ASSIGN_OR_RETURN(ExprPtr inner, ParseTuple(/*with_conditional=*/true, "",
                                                             /*in_parentheses=*/true));
          TESSERA_RETURN_IF_ERROR(ExpectOperator(")"));
          return inner;
        }
        if (token.text == "[") return ParseList();
        if (token.text == "{") return ParseDict();
        break;
      default: break;
    }
    return Error(token, absl::StrCat("unexpected ", Describe(token)));
  }

  absl::StatusOr<ExprPtr> ParseList() {
    const int line = Advance().line;  // "["
    ListExpr node;
    while (!AtOperator("]")) {
      if (!node.items.empty()) TESSERA_RETURN_IF_ERROR(ExpectOperator(","));
      if (AtOperator("]")) break;
      TESSERA_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression(/*with_conditional=*/true));
      node.items.push_back(std::move(item));
    }
    TESSERA_RETURN_IF_ERROR(ExpectOperator("]"));
    return MakeExpr(line, std::move(node));
  }

  absl::StatusOr<ExprPtr> ParseDict() {
    const int line = Advance().line;  // "{"
    DictExpr node;
    while (!AtOperator("}")) {
      if (!node.entries.empty()) TESSERA_RETURN_IF_ERROR(ExpectOperator(","));
      if (AtOperator("}")) break;
      TESSERA_ASSIGN_OR_RETURN(ExprPtr key, ParseExpression(/*with_conditional=*/true));
      TESSERA_RETURN_IF_ERROR(ExpectOperator(":"));
      TESSERA_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(/*with_conditional=*/true));
      node.entries.emplace_back(std::move(key), std::move(value));
    }
    TESSERA_RETURN_IF_ERROR(ExpectOperator("}"));
    return MakeExpr(line, std::move(node));
  }

  // Attribute access, subscripts and calls.
  absl::StatusOr<ExprPtr> ParsePostfix(ExprPtr node) {
    while (true) {
      if (AtOperator(".") || AtOperator("[")) {
        TESSERA_ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node)));
      } else if (AtOperator("(")) {
        TESSERA_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
      } else {
        return node;
      }
    }
  }

  // Filters, tests, and calls on their results.
  absl::StatusOr<ExprPtr> ParseFilters(ExprPtr node) {
    while (true) {
      if (AtOperator("|")) {
        TESSERA_ASSIGN_OR_RETURN(node, ParseFilter(std::move(node)));
      } else if (AtName("is")) {
        TESSERA_ASSIGN_OR_RETURN(node, ParseTest(std::move(node)));
      } else if (AtOperator("(")) {
        TESSERA_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
      } else {
        return node;
      }
    }
  }

  absl::StatusOr<ExprPtr> ParseSubscript(ExprPtr object) {
    const Token& opener = Advance();
    if (opener.text == ".") {
      const Token& token = Advance();
      if (token.kind == TokenKind::kName) {
        return MakeExpr(opener.line, AttributeExpr{std::move(object), token.text});
      }
      if (token.kind != TokenKind::kInteger) return Error(token, "expected name or number");
      ExprPtr key = MakeExpr(token.line, LiteralExpr{Value::Int(token.integer)});
      return MakeExpr(opener.line, ItemExpr{std::move(object), std::move(key)});
    }
    // "[": a key, a slice, or keys separated by commas (a tuple key).
    ExprPtr parts[3];
    bool is_slice = false;
    for (int part = 0; part < 3; ++part) {
      if (!AtOperator(":") && !AtOperator("]")) {
        TESSERA_ASSIGN_OR_RETURN(parts[part], ParseExpression(/*with_conditional=*/true));
      }
      if (part == 2 || !SkipOperator(":")) break;
      is_slice = true;
    }
    if (is_slice) {
      if (AtOperator(",")) return Error(Current(), "unsupported slice in a tuple subscript");
      TESSERA_RETURN_IF_ERROR(ExpectOperator("]"));
      return MakeExpr(opener.line, SliceExpr{std::move(object), std::move(parts[0]),
                                             std::move(parts[1]), std::move(parts[2])});
    }
    if (parts[0] == nullptr) return Error(opener, "expected a subscript");
    ExprPtr key = std::move(parts[0]);
    if (AtOperator(",")) {
      ListExpr tuple;
      tuple.tuple = true;
      tuple.items.push_back(std::move(key));
      while (SkipOperator(",") && !AtOperator("]")) {
        TESSERA_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression(/*with_conditional=*/true));
        tuple.items.push_back(std::move(item));
      }
      key = MakeExpr(opener.line, std::move(tuple));
    }
    TESSERA_RETURN_IF_ERROR(ExpectOperator("]"));
    return MakeExpr(opener.line, ItemExpr{std::move(object), std::move(key)});
  }

  absl::StatusOr<CallArguments> ParseCallArguments() {
    const Token& opener = Current();
    TESSERA_RETURN_IF_ERROR(ExpectOperator("("));
    CallArguments args;
    bool first = true;
    while (!AtOperator(")")) {
      if (!first) {
        TESSERA_RETURN_IF_ERROR(ExpectOperator(","));
        if (AtOperator(")")) break;  // trailing comma
      }
      first = false;
      if (AtOperator("*") || AtOperator("**")) {
        return Error(Current(), "unsupported *args/**kwargs in a call");
      }
      if (Current().kind == TokenKind::kName && Next().kind == TokenKind::kOperator &&
          Next().text == "=") {
        std::string name = Advance().text;
        Advance();  // "="
        TESSERA_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(/*with_conditional=*/true));
        args.keyword.emplace_back(std::move(name), std::move(value));
      } else {
        if (!args.keyword.empty()) {
          return Error(opener, "invalid syntax for function call expression");
        }
        TESSERA_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(/*with_conditional=*/true));
        args.positional.push_back(std::move(value));
      }
    }
    TESSERA_RETURN_IF_ERROR(ExpectOperator(")"));
    return args;
  }

  absl::StatusOr<ExprPtr> ParseCall(ExprPtr callee) {
    const int line = Current().line;
    TESSERA_ASSIGN_OR_RETURN(CallArguments args, ParseCallArguments());
    return MakeExpr(line, CallExpr{std::move(callee), std::move(args)});
  }

  // A dotted name after "|" or "is".
  absl::StatusOr<std::string> ParseDottedName() {
    TESSERA_ASSIGN_OR_RETURN(std::string name, ExpectName());
    while (SkipOperator(".")) {
      TESSERA_ASSIGN_OR_RETURN(std::string part, ExpectName());
      absl::StrAppend(&name, ".", part);
    }
    return name;
  }

  absl::StatusOr<ExprPtr> ParseFilter(ExprPtr operand) {
    Advance();  // "|"
    const Token& token = Current();
    TESSERA_ASSIGN_OR_RETURN(std::string name, ParseDottedName());
    if (!IsKnownFilter(name)) return Error(token, absl::StrCat("unsupported filter '", name, "'"));
    CallArguments args;
    if (AtOperator("(")) {
      TESSERA_ASSIGN_OR_RETURN(args, ParseCallArguments());
    }
    return MakeExpr(token.line, FilterExpr{std::move(operand), std::move(name), std::move(args)});
  }

  absl::StatusOr<ExprPtr> ParseTest(ExprPtr operand) {
    const int line = Advance().line;  // "is"
    const bool negated = SkipName("not");
    const Token& token = Current();
    TESSERA_ASSIGN_OR_RETURN(std::string name, ParseDottedName());
    if (!IsKnownTest(name)) return Error(token, absl::StrCat("unsupported test '", name, "'"));
    CallArguments args;
    if (AtOperator("(")) {
      TESSERA_ASSIGN_OR_RETURN(args, ParseCallArguments());
    } else if (StartsTestArgument()) {
      // `x is divisibleby 3`: one argument without parentheses.
      if (AtName("is")) return Error(Current(), "You cannot chain multiple tests with is");
      TESSERA_ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
      TESSERA_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
      args.positional.push_back(std::move(arg));
    }
    ExprPtr test = MakeExpr(line, TestExpr{std::move(operand), std::move(name), std::move(args)});
    if (!negated) return test;
    return MakeExpr(line, NotExpr{std::move(test)});
  }

  bool StartsTestArgument() const {
    switch (Current().kind) {
      case TokenKind::kName: return !AtName("else") && !AtName("or") && !AtName("and");
      case TokenKind::kString:
      case TokenKind::kInteger:
      case TokenKind::kFloat: return true;
      case TokenKind::kOperator: return AtOperator("(") || AtOperator("[") || AtOperator("{");
      default: return false;
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int nesting_ = 0;
};

}  // namespace

absl::StatusOr<Body> ParseTokens(std::vector<Token> tokens) {
  return Parser(std::move(tokens)).ParseTemplate();
}

}  // namespace tessera::jinja
