// A parsed Jinja2 template in the configuration transformers uses for chat templates
// (trim_blocks, lstrip_blocks, loop controls). Immutable; copies share the parsed tree.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/jinja/ast.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

class Template {
 public:
  // Errors (INVALID_ARGUMENT) name the line: syntax errors and constructs outside the
  // supported subset.
  static absl::StatusOr<Template> Parse(absl::string_view source);

  // The rendered text with `context` (globals and variables) in scope.
  absl::StatusOr<std::string> Render(const ValueDict& context) const;

 private:
  explicit Template(std::shared_ptr<const Body> body) : body_(std::move(body)) {}

  std::shared_ptr<const Body> body_;
};

}  // namespace tessera::jinja
