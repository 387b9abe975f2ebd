// The JSON configuration files of a Hugging Face model directory: config.json, the architecture's
// hyperparameters, read through typed getters; and generation_config.json, the end-of-sequence
// tokens and the sampling defaults the model's authors chose.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace tessera {

// A JSON object with typed getters. A key holding null counts as missing: config files write null
// for "not used" (e.g. "rope_scaling": null). Errors are INVALID_ARGUMENT (INVALID_MODEL_FILE)
// naming the file and the key, with its path for nested objects ("rope_scaling.factor").
class HfConfig {
 public:
  // Reads `path`, which must hold a JSON object. Errors: NOT_FOUND (MODEL_FILE_NOT_FOUND) when it
  // does not exist; INVALID_ARGUMENT (INVALID_MODEL_FILE) when it is not a JSON object.
  static absl::StatusOr<HfConfig> Read(const std::string& path);

  const std::string& path() const { return path_; }

  // True when `key` is present and not null.
  bool Has(std::string_view key) const;

  // Required values: an error when `key` is missing or holds another type.
  absl::StatusOr<int64_t> GetInt(std::string_view key) const;
  absl::StatusOr<double> GetFloat(std::string_view key) const;  // an integer or a float
  absl::StatusOr<std::string> GetString(std::string_view key) const;
  absl::StatusOr<bool> GetBool(std::string_view key) const;
  // An integer or a list of integers: eos_token_id is written either way.
  absl::StatusOr<std::vector<int64_t>> GetIntList(std::string_view key) const;
  absl::StatusOr<std::vector<double>> GetFloatList(std::string_view key) const;
  absl::StatusOr<std::vector<std::string>> GetStringList(std::string_view key) const;
  // A nested object such as rope_scaling.
  absl::StatusOr<HfConfig> GetObject(std::string_view key) const;

  // Optional values: `fallback` when `key` is missing; still an error when it holds another type.
  absl::StatusOr<int64_t> GetIntOr(std::string_view key, int64_t fallback) const;
  absl::StatusOr<double> GetFloatOr(std::string_view key, double fallback) const;
  absl::StatusOr<std::string> GetStringOr(std::string_view key, std::string fallback) const;
  absl::StatusOr<bool> GetBoolOr(std::string_view key, bool fallback) const;

 private:
  template <typename T>
  using Converter = std::optional<T> (*)(const nlohmann::json&);

  HfConfig(std::string path, std::shared_ptr<const nlohmann::json> root,
           const nlohmann::json* object, std::string key_prefix);
  // The value under `key`, or nullptr when it is missing or null.
  const nlohmann::json* Find(std::string_view key) const;
  template <typename T>
  absl::StatusOr<T> Get(std::string_view key, Converter<T> convert,
                        std::string_view expected) const;
  template <typename T>
  absl::StatusOr<T> GetOr(std::string_view key, T fallback, Converter<T> convert,
                          std::string_view expected) const;

  std::string path_;
  std::shared_ptr<const nlohmann::json> root_;  // nested objects share their file's JSON
  const nlohmann::json* object_;                // into root_
  std::string key_prefix_;                      // "rope_scaling." for a nested object
};

// What generation_config.json says; a field the file leaves out stays unset.
struct GenerationConfig {
  std::vector<int32_t> eos_token_ids;  // any of them ends a sequence
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> pad_token_id;
  // Sampling defaults. do_sample false means greedy decoding whatever the other fields say.
  std::optional<bool> do_sample;
  std::optional<double> temperature;
  std::optional<int64_t> top_k;
  std::optional<double> top_p;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
  std::optional<int64_t> max_new_tokens;
};

// Errors: those of HfConfig::Read, and INVALID_ARGUMENT (INVALID_MODEL_FILE) naming the key for a
// mistyped field or a token id that is negative or beyond int32.
absl::StatusOr<GenerationConfig> ReadGenerationConfig(const std::string& path);

}  // namespace tessera
