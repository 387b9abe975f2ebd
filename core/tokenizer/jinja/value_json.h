// Values to and from JSON: chat inputs arrive as JSON, and the tojson filter writes JSON the
// way transformers' override of it does, which is Python's json.dumps.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/tokenizer/jinja/value.h"
#include "nlohmann/json.hpp"

namespace tessera::jinja {

// Objects keep their key order, as Python dicts do.
Value ValueFromJson(const nlohmann::ordered_json& json);

// The arguments of json.dumps that transformers' tojson exposes.
struct JsonDumpOptions {
  bool ensure_ascii = false;
  // Each nesting level indents by this; none: everything on one line.
  std::optional<std::string> indent;
  // Between items and between a key and its value; none: json.dumps' defaults, ", " (or ","
  // when indenting) and ": ".
  std::optional<std::string> item_separator;
  std::optional<std::string> key_separator;
  bool sort_keys = false;
};

// json.dumps(value, ...). Undefined, namespaces and functions are not serializable (an error).
absl::StatusOr<std::string> DumpJson(const Value& value, const JsonDumpOptions& options);

}  // namespace tessera::jinja
