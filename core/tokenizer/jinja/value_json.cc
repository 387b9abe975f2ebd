#include "core/tokenizer/jinja/value_json.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/tokenizer/jinja/unicode.h"
#include "core/tokenizer/jinja/value_format.h"
#include "core/util/status_macros.h"

namespace tessera::jinja {
namespace {

void AppendJsonString(absl::string_view text, bool ensure_ascii, std::string& out) {
  out.push_back('"');
  for (char32_t c : DecodeUtf8(text)) {
    switch (c) {
      case U'"': out += "\\\""; break;
      case U'\\': out += "\\\\"; break;
      case U'\n': out += "\\n"; break;
      case U'\r': out += "\\r"; break;
      case U'\t': out += "\\t"; break;
      case U'\b': out += "\\b"; break;
      case U'\f': out += "\\f"; break;
      default:
        // ensure_ascii escapes everything outside printable ASCII, DEL included.
        if (c < 0x20 || (ensure_ascii && c > 0x7E && c <= 0xFFFF)) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<uint32_t>(c));
        } else if (ensure_ascii && c > 0xFFFF) {
          // Outside the BMP: a UTF-16 surrogate pair.
          const uint32_t offset = static_cast<uint32_t>(c) - 0x10000;
          absl::StrAppendFormat(&out, "\\u%04x\\u%04x", 0xD800 + (offset >> 10),
                                0xDC00 + (offset & 0x3FF));
        } else {
          AppendUtf8(c, out);
        }
    }
  }
  out.push_back('"');
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonDumpOptions& options)
      : options_(options),
        item_separator_(options.item_separator.value_or(options.indent ? "," : ", ")),
        key_separator_(options.key_separator.value_or(": ")) {}

  absl::Status Write(const Value& value, int depth, std::string& out) const {
    switch (value.kind()) {
      case Value::Kind::kNone: out += "null"; return absl::OkStatus();
      case Value::Kind::kBool: out += value.as_bool() ? "true" : "false"; return absl::OkStatus();
      case Value::Kind::kInt: absl::StrAppend(&out, value.as_int()); return absl::OkStatus();
      case Value::Kind::kFloat: out += FloatJson(value.as_float()); return absl::OkStatus();
      case Value::Kind::kString:
        AppendJsonString(value.as_string(), options_.ensure_ascii, out);
        return absl::OkStatus();
      case Value::Kind::kList:
      case Value::Kind::kTuple: return WriteList(value.as_list(), depth, out);
      case Value::Kind::kDict: return WriteDict(value.as_dict(), depth, out);
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("Object of type ", TypeName(value), " is not JSON serializable"));
    }
  }

 private:
  static std::string FloatJson(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value < 0 ? "-Infinity" : "Infinity";
    return FormatFloat(value);
  }

  // What goes before an item at `depth`: a newline and indentation when indenting.
  void AppendItemStart(int depth, bool first, std::string& out) const {
    if (!first) out += item_separator_;
    AppendNewline(depth, out);
  }

  void AppendNewline(int depth, std::string& out) const {
    if (!options_.indent) return;
    out.push_back('\n');
    for (int i = 0; i < depth; ++i) out += *options_.indent;
  }

  absl::Status WriteList(const ValueList& items, int depth, std::string& out) const {
    if (items.empty()) {
      out += "[]";
      return absl::OkStatus();
    }
    out.push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      AppendItemStart(depth + 1, i == 0, out);
      TESSERA_RETURN_IF_ERROR(Write(items[i], depth + 1, out));
    }
    AppendNewline(depth, out);
    out.push_back(']');
    return absl::OkStatus();
  }

  absl::Status WriteDict(const ValueDict& entries, int depth, std::string& out) const {
    if (entries.empty()) {
      out += "{}";
      return absl::OkStatus();
    }
    std::vector<const std::pair<std::string, Value>*> order;
    for (const auto& entry : entries) order.push_back(&entry);
    if (options_.sort_keys) {
      std::stable_sort(order.begin(), order.end(),
                       [](const auto* a, const auto* b) { return a->first < b->first; });
    }
    out.push_back('{');
    for (size_t i = 0; i < order.size(); ++i) {
      AppendItemStart(depth + 1, i == 0, out);
      AppendJsonString(order[i]->first, options_.ensure_ascii, out);
      out += key_separator_;
      TESSERA_RETURN_IF_ERROR(Write(order[i]->second, depth + 1, out));
    }
    AppendNewline(depth, out);
    out.push_back('}');
    return absl::OkStatus();
  }

  const JsonDumpOptions& options_;
  std::string item_separator_;
  std::string key_separator_;
};

}  // namespace

Value ValueFromJson(const nlohmann::ordered_json& json) {
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::None();
    case nlohmann::ordered_json::value_t::boolean: return Value::Bool(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
    case nlohmann::ordered_json::value_t::number_unsigned: return Value::Int(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_float: return Value::Float(json.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::String(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      ValueList items;
      for (const auto& item : json) items.push_back(ValueFromJson(item));
      return Value::List(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      ValueDict entries;
      for (const auto& [key, item] : json.items()) entries.emplace_back(key, ValueFromJson(item));
      return Value::Dict(std::move(entries));
    }
    default:  // binary and discarded values never come from parsed JSON text
      return Value::None();
  }
}

absl::StatusOr<std::string> DumpJson(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  TESSERA_RETURN_IF_ERROR(JsonWriter(options).Write(value, 0, out));
  return out;
}

}  // namespace tessera::jinja
