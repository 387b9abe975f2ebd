// How templates reach into values: `x.name`, `x[key]`, `x[a:b:c]` and iteration, with
// Jinja2's rules for what is missing (an undefined value) and what is an error (reaching into
// an undefined value).
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/jinja/value.h"

namespace tessera::jinja {

// `object.name`: a method of the object first, then its item (dict key, namespace attribute).
absl::StatusOr<Value> GetAttr(const Value& object, absl::string_view name);

// `object[key]`: the item first (negative indices count from the end), then a method.
absl::StatusOr<Value> GetItem(const Value& object, const Value& key);

// `object[start:stop:step]` on a string, list or tuple; missing bounds are empty.
absl::StatusOr<Value> GetSlice(const Value& object, const std::optional<Value>& start,
                               const std::optional<Value>& stop, const std::optional<Value>& step);

// What `for x in value` visits: items, dict keys, a string's characters; nothing for undefined.
absl::StatusOr<ValueList> Iterate(const Value& value);

// Python's len(); undefined has length 0.
absl::StatusOr<int64_t> Length(const Value& value);

}  // namespace tessera::jinja
