#include "core/format/hf_config.h"

#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "core/format/json_file.h"
#include "core/format/model_file_error.h"
#include "core/util/status_macros.h"

namespace tessera {
namespace {

using Json = nlohmann::json;

// Values longer than this are described by their type alone.
constexpr size_t kMaxQuotedValueChars = 40;

std::string Describe(const Json& value) {
  if (value.is_null()) return "null";
  const std::string text = value.dump();
  if (text.size() > kMaxQuotedValueChars) return std::string(JsonTypeName(value));
  return absl::StrFormat("%s (%s)", JsonTypeName(value), text);
}

std::optional<int64_t> AsInt(const Json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t number = value.get<uint64_t>();
    if (number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(number);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;
}

std::optional<double> AsFloat(const Json& value) {
  if (!value.is_number()) return std::nullopt;
  return value.get<double>();
}

std::optional<std::string> AsString(const Json& value) {
  if (!value.is_string()) return std::nullopt;
  return value.get<std::string>();
}

std::optional<bool> AsBool(const Json& value) {
  if (!value.is_boolean()) return std::nullopt;
  return value.get<bool>();
}

// Every element of the array `value` converted, or nullopt if it is no array or one fails.
template <typename T>
std::optional<std::vector<T>> AsList(const Json& value, std::optional<T> (*convert)(const Json&)) {
  if (!value.is_array()) return std::nullopt;
  std::vector<T> list;
  list.reserve(value.size());
  for (const Json& element : value) {
    std::optional<T> converted = convert(element);
    if (!converted) return std::nullopt;
    list.push_back(*std::move(converted));
  }
  return list;
}

std::optional<std::vector<int64_t>> AsIntOrIntList(const Json& value) {
  if (const std::optional<int64_t> single = AsInt(value)) return std::vector<int64_t>{*single};
  return AsList(value, AsInt);
}

// The object itself, which stays inside the root the nested HfConfig shares.
std::optional<const Json*> AsObject(const Json& value) {
  if (!value.is_object()) return std::nullopt;
  return &value;
}

std::optional<std::vector<double>> AsFloatList(const Json& value) {
  return AsList(value, AsFloat);
}

std::optional<std::vector<std::string>> AsStringList(const Json& value) {
  return AsList(value, AsString);
}

}  // namespace

HfConfig::HfConfig(std::string path, std::shared_ptr<const Json> root, const Json* object,
                   std::string key_prefix)
    : path_(std::move(path)),
      root_(std::move(root)),
      object_(object),
      key_prefix_(std::move(key_prefix)) {}

absl::StatusOr<HfConfig> HfConfig::Read(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(Json json, ReadJsonFile(path));
  if (!json.is_object()) {
    return InvalidModelFileError(
        path, absl::StrFormat("holds %s, expected a JSON object", JsonTypeName(json)));
  }
  auto root = std::make_shared<const Json>(std::move(json));
  const Json* object = root.get();
  return HfConfig(path, std::move(root), object, /*key_prefix=*/"");
}

const Json* HfConfig::Find(std::string_view key) const {
  const auto it = object_->find(key);
  return it == object_->end() || it->is_null() ? nullptr : &*it;
}

bool HfConfig::Has(std::string_view key) const { return Find(key) != nullptr; }

template <typename T>
absl::StatusOr<T> HfConfig::Get(std::string_view key, Converter<T> convert,
                                std::string_view expected) const {
  const auto it = object_->find(key);
  if (it == object_->end()) {
    return InvalidModelFileError(path_,
                                 absl::StrFormat("key '%s%s' is missing", key_prefix_, key));
  }
  std::optional<T> value = convert(*it);
  if (!value) {
    return InvalidModelFileError(path_, absl::StrFormat("key '%s%s' is %s, expected %s",
                                                        key_prefix_, key, Describe(*it),
                                                        expected));
  }
  return *std::move(value);
}

template <typename T>
absl::StatusOr<T> HfConfig::GetOr(std::string_view key, T fallback, Converter<T> convert,
                                  std::string_view expected) const {
  if (!Has(key)) return fallback;
  return Get(key, convert, expected);
}

absl::StatusOr<int64_t> HfConfig::GetInt(std::string_view key) const {
  return Get<int64_t>(key, AsInt, "a 64-bit integer");
}

absl::StatusOr<double> HfConfig::GetFloat(std::string_view key) const {
  return Get<double>(key, AsFloat, "a number");
}

absl::StatusOr<std::string> HfConfig::GetString(std::string_view key) const {
  return Get<std::string>(key, AsString, "a string");
}

absl::StatusOr<bool> HfConfig::GetBool(std::string_view key) const {
  return Get<bool>(key, AsBool, "a boolean");
}

absl::StatusOr<std::vector<int64_t>> HfConfig::GetIntList(std::string_view key) const {
  return Get<std::vector<int64_t>>(key, AsIntOrIntList, "an integer or a list of integers");
}

absl::StatusOr<std::vector<double>> HfConfig::GetFloatList(std::string_view key) const {
  return Get<std::vector<double>>(key, AsFloatList, "a list of numbers");
}

absl::StatusOr<std::vector<std::string>> HfConfig::GetStringList(std::string_view key) const {
  return Get<std::vector<std::string>>(key, AsStringList, "a list of strings");
}

absl::StatusOr<HfConfig> HfConfig::GetObject(std::string_view key) const {
  TESSERA_ASSIGN_OR_RETURN(const Json* object, Get<const Json*>(key, AsObject, "an object"));
  return HfConfig(path_, root_, object, absl::StrFormat("%s%s.", key_prefix_, key));
}

absl::StatusOr<int64_t> HfConfig::GetIntOr(std::string_view key, int64_t fallback) const {
  return GetOr<int64_t>(key, fallback, AsInt, "a 64-bit integer");
}

absl::StatusOr<double> HfConfig::GetFloatOr(std::string_view key, double fallback) const {
  return GetOr<double>(key, fallback, AsFloat, "a number");
}

absl::StatusOr<std::string> HfConfig::GetStringOr(std::string_view key,
                                                  std::string fallback) const {
  return GetOr<std::string>(key, std::move(fallback), AsString, "a string");
}

absl::StatusOr<bool> HfConfig::GetBoolOr(std::string_view key, bool fallback) const {
  return GetOr<bool>(key, fallback, AsBool, "a boolean");
}

namespace {

absl::StatusOr<int32_t> TokenId(const HfConfig& config, std::string_view key, int64_t id) {
  if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
    return InvalidModelFileError(
        config.path(), absl::StrFormat("key '%s' holds %d, which is not a token id", key, id));
  }
  return static_cast<int32_t>(id);
}

absl::Status ReadTokenId(const HfConfig& config, std::string_view key,
                         std::optional<int32_t>& id) {
  if (!config.Has(key)) return absl::OkStatus();
  TESSERA_ASSIGN_OR_RETURN(const int64_t number, config.GetInt(key));
  TESSERA_ASSIGN_OR_RETURN(id, TokenId(config, key, number));
  return absl::OkStatus();
}

template <typename T>
absl::Status ReadOptional(const HfConfig& config, std::string_view key,
                          absl::StatusOr<T> (HfConfig::*get)(std::string_view) const,
                          std::optional<T>& value) {
  if (!config.Has(key)) return absl::OkStatus();
  TESSERA_ASSIGN_OR_RETURN(value, (config.*get)(key));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GenerationConfig> ReadGenerationConfig(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(const HfConfig config, HfConfig::Read(path));
  GenerationConfig generation;
  if (config.Has("eos_token_id")) {
    TESSERA_ASSIGN_OR_RETURN(const std::vector<int64_t> ids, config.GetIntList("eos_token_id"));
    for (const int64_t id : ids) {
      TESSERA_ASSIGN_OR_RETURN(const int32_t token, TokenId(config, "eos_token_id", id));
      generation.eos_token_ids.push_back(token);
    }
  }
  TESSERA_RETURN_IF_ERROR(ReadTokenId(config, "bos_token_id", generation.bos_token_id));
  TESSERA_RETURN_IF_ERROR(ReadTokenId(config, "pad_token_id", generation.pad_token_id));
  TESSERA_RETURN_IF_ERROR(
      ReadOptional(config, "do_sample", &HfConfig::GetBool, generation.do_sample));
  TESSERA_RETURN_IF_ERROR(
      ReadOptional(config, "temperature", &HfConfig::GetFloat, generation.temperature));
  TESSERA_RETURN_IF_ERROR(ReadOptional(config, "top_k", &HfConfig::GetInt, generation.top_k));
  TESSERA_RETURN_IF_ERROR(ReadOptional(config, "top_p", &HfConfig::GetFloat, generation.top_p));
  TESSERA_RETURN_IF_ERROR(ReadOptional(config, "min_p", &HfConfig::GetFloat, generation.min_p));
  TESSERA_RETURN_IF_ERROR(ReadOptional(config, "repetition_penalty", &HfConfig::GetFloat,
                                       generation.repetition_penalty));
  TESSERA_RETURN_IF_ERROR(
      ReadOptional(config, "max_new_tokens", &HfConfig::GetInt, generation.max_new_tokens));
  return generation;
}

}  // namespace tessera
