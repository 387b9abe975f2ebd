// Jinja2's tests, the predicates of `value is name(args)` and of select/reject.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

bool IsKnownTest(absl::string_view name);

// `operand is name(args)`; an unknown name is an error.
absl::StatusOr<bool> ApplyTest(absl::string_view name, const Value& operand, const CallArgs& args);

}  // namespace tessera::jinja
