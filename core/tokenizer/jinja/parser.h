// Builds the syntax tree from tokens, following Jinja2's grammar and operator precedence.
// Constructs outside the supported subset (macros, includes, inheritance, unknown filters and
// tests...) are errors naming the construct and its line.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/jinja/ast.h"
#include "core/tokenizer/jinja/lexer.h"

namespace tessera::jinja {

absl::StatusOr<Body> ParseTokens(std::vector<Token> tokens);

}  // namespace tessera::jinja
