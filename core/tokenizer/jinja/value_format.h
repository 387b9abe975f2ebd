// How values print: Python's str() and repr(), which is what Jinja2 writes for `{{ value }}`.
#pragma once

#include <string>

#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

// Python's str(value). Undefined prints as nothing, as with Jinja2's default Undefined.
std::string ToStr(const Value& value);

// Python's repr(value): how a value prints inside a list or dict.
std::string ToRepr(const Value& value);

// Python's repr(float): the shortest text that reads back to the same double ("0.1", "1e-05",
// "1e+16", "2.0").
std::string FormatFloat(double value);

}  // namespace tessera::jinja
