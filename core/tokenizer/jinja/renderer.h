// Runs a parsed template: executes its statements, evaluating expressions against scopes of
// variables the way Jinja2 does (a for loop's body gets a fresh scope each iteration, so `set`
// inside a loop does not leak out; namespace() objects carry values across).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/tokenizer/jinja/ast.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

// The text `body` renders to with `context` (globals and variables) in scope. Errors
// (INVALID_ARGUMENT) name the line.
absl::StatusOr<std::string> RenderBody(const Body& body, const ValueDict& context);

}  // namespace tessera::jinja
