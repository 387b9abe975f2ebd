// Splits template source into text and the tokens inside `{{ }}` and `{% %}` tags, applying
// the whitespace rules of the Jinja2 environment transformers uses: trim_blocks (the newline
// after a block tag goes), lstrip_blocks (indentation before a block tag goes), `-` and `+`
// whitespace control, and one trailing newline of the template dropped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::jinja {

enum class TokenKind {
  kText,           // literal template text
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,
  kEnd,  // end of the template
};

struct Token {
  TokenKind kind;
  // kText: the text; kName: the name; kString: the decoded value; kOperator: the operator.
  std::string text;
  int64_t integer = 0;
  double number = 0;
  int line = 0;
};

// The tokens of `source`, ending with kEnd. Errors (INVALID_ARGUMENT) name the line.
absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view source);

}  // namespace tessera::jinja
