// The Python methods templates may call on values: str's text methods and dict's read-only
// ones. The sandbox transformers uses forbids the mutating ones (list.append, dict.update).
#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

// `receiver.name` as a function bound to the receiver, when `name` is one of its methods.
std::optional<Value> FindMethod(const Value& receiver, absl::string_view name);

}  // namespace tessera::jinja
