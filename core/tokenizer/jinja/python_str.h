// Python's str methods that chat templates call (and the filters built on them), on UTF-8 text,
// counting in code points as Python does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::jinja {

enum class StripSide { kLeft, kRight, kBoth };

// str.strip / lstrip / rstrip: removes the code points in `chars` from the chosen side(s);
// without `chars`, Python whitespace.
std::string Strip(absl::string_view text, std::optional<absl::string_view> chars, StripSide side);

// str.split: on `separator`, or without one on runs of whitespace (dropping empty pieces);
// at most `max_splits` splits when it is not negative. An empty separator is an error.
absl::StatusOr<std::vector<std::string>> Split(absl::string_view text,
                                               std::optional<absl::string_view> separator,
                                               int64_t max_splits);

// str.replace: the first `count` occurrences (all when negative).
std::string Replace(absl::string_view text, absl::string_view old_text, absl::string_view new_text,
                    int64_t count);

// str.lower / upper / title / capitalize with Unicode simple case mapping (no one-to-many
// mappings such as German sharp s to "SS").
std::string Lower(absl::string_view text);
std::string Upper(absl::string_view text);
std::string Title(absl::string_view text);
std::string Capitalize(absl::string_view text);

}  // namespace tessera::jinja
