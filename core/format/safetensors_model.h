// The weights of a Hugging Face model directory: either one model.safetensors, or the shards that
// model.safetensors.index.json names ({"metadata": {...}, "weight_map": {tensor: shard file}}).
// Every shard is opened and validated once, up front; tensors are then found by name alone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/format/safetensors.h"
#include "kernels/tensor.h"

namespace tessera::safetensors {

inline constexpr std::string_view kSingleFileName = "model.safetensors";
inline constexpr std::string_view kIndexFileName = "model.safetensors.index.json";

class SafetensorsModel {
 public:
  // Opens the single file when `dir` has one, else the index and its shards. Shard names must be
  // plain file names inside `dir` (symbolic links, as in the Hugging Face cache, are followed).
  // Errors: NOT_FOUND (MODEL_FILE_NOT_FOUND) when `dir` has neither file; INVALID_ARGUMENT
  // (INVALID_MODEL_FILE) naming the file and problem for a malformed index or shard, a shard the
  // index names that is missing, or a tensor missing from the shard the index names for it.
  static absl::StatusOr<std::unique_ptr<SafetensorsModel>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // Each file once, in the order the index first names them.
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

  // The model's tensors: every tensor of the single file, or those the index maps. Sorted.
  std::vector<std::string_view> TensorNames() const;
  const TensorInfo* FindTensor(std::string_view name) const;  // nullptr when absent
  // Errors: those of SafetensorsFile::GetTensor, naming the file that holds the tensor.
  absl::StatusOr<Tensor> GetTensor(std::string_view name) const;

  // Bytes of all the model's tensors together.
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  struct Location {
    const SafetensorsFile* file;
    const TensorInfo* info;
  };

  explicit SafetensorsModel(std::string dir) : dir_(std::move(dir)) {}
  absl::Status OpenSingleFile(const std::string& path);
  absl::Status OpenShards(const std::string& index_path);
  void Add(const SafetensorsFile& file, const TensorInfo& info);

  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  absl::flat_hash_map<std::string_view, Location> tensors_;  // keys view the files' names
  uint64_t total_bytes_ = 0;
};

}  // namespace tessera::safetensors
