// Jinja2's filters (`value | name(args)`) that chat templates use, with transformers' tojson.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

bool IsKnownFilter(absl::string_view name);

// `operand | name(args)`; an unknown name is an error.
absl::StatusOr<Value> ApplyFilter(absl::string_view name, const Value& operand,
                                  const CallArgs& args);

}  // namespace tessera::jinja
