#include "core/tokenizer/jinja/template.h"

#include "core/tokenizer/jinja/lexer.h"
#include "core/tokenizer/jinja/parser.h"
#include "core/tokenizer/jinja/renderer.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {

absl::StatusOr<Template> Template::Parse(absl::string_view source) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(source));
  TESSERA_ASSIGN_OR_RETURN(Body body, ParseTokens(std::move(tokens)));
  return Template(std::make_shared<const Body>(std::move(body)));
}

absl::StatusOr<std::string> Template::Render(const ValueDict& context) const {
  return RenderBody(*body_, context);
}

}  // namespace tessera::jinja
