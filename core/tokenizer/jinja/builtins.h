// The global functions templates can call: Jinja2's range(), namespace() and dict(), and the
// two transformers adds for chat templates, raise_exception() and strftime_now().
#pragma once

#include "absl/time/time.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

// The globals, with strftime_now() formatting `now` in the local time zone (Python's
// datetime.now()). raise_exception(message) fails the render with `message`.
ValueDict BuiltinGlobals(absl::Time now);

}  // namespace tessera::jinja
