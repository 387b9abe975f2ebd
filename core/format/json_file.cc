#include "core/format/json_file.h"

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "core/format/mapped_file.h"
#include "core/format/model_file_error.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

// Config files and shard indexes are kilobytes; anything this large is not one of them.
constexpr uint64_t kMaxJsonFileBytes = 100'000'000;

// The parser's own message without its "[json.exception.parse_error.101] " tag.
std::string_view ParseErrorDetail(const nlohmann::json::parse_error& error) {
  std::string_view message = error.what();
  const size_t tag_end = message.find("] ");
  return tag_end == std::string_view::npos ? message : message.substr(tag_end + 2);
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJson(std::string_view path, std::string_view what,
                                         std::string_view text) {
  using ParseEvent = nlohmann::json::parse_event_t;
  std::vector<absl::flat_hash_set<std::string>> keys_of_open_objects;
  std::string repeated_key;
  const nlohmann::json::parser_callback_t track_keys = [&](int, ParseEvent event,
                                                           nlohmann::json& parsed) {
    if (event == ParseEvent::object_start) keys_of_open_objects.emplace_back();
    if (event == ParseEvent::object_end) keys_of_open_objects.pop_back();
    if (event == ParseEvent::key && repeated_key.empty() &&
        !keys_of_open_objects.back().insert(parsed.get_ref<const std::string&>()).second) {
      repeated_key = parsed.get_ref<const std::string&>();
    }
    return true;
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text.begin(), text.end(), track_keys);
  } catch (const nlohmann::json::parse_error& error) {
    return InvalidModelFileError(
        path, absl::StrFormat("%s is not valid JSON: %s", what, ParseErrorDetail(error)));
  } catch (const nlohmann::json::exception& error) {
    // Syntactically valid but unrepresentable, such as a number beyond double's range.
    return InvalidModelFileError(path, absl::StrFormat("%s cannot be read: %s", what, error.what()));
  }
  if (!repeated_key.empty()) {
    return InvalidModelFileError(
        path, absl::StrFormat("%s repeats the key \"%s\" in one object", what, repeated_key));
  }
  return json;
}

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(const MappedFile file, MappedFile::Open(path));
  if (file.size() > kMaxJsonFileBytes) {
    return InvalidModelFileError(path, absl::StrFormat("is %d bytes, more than the %d a JSON "
                                                       "model file may have",
                                                       file.size(), kMaxJsonFileBytes));
  }
  return ParseJson(path, "content", file.bytes());
}

std::string_view JsonTypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a float";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded: break;
  }
  return "an unknown value";
}

}  // namespace tessera
