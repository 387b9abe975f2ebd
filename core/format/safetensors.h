// safetensors reader: memory-maps one .safetensors file and validates its header and the place of
// every tensor before anything is handed out.
// Format: https://github.com/huggingface/safetensors (README, "Format"): an unsigned little-endian
// u64 N, N bytes of UTF-8 JSON starting with '{' (optionally padded with spaces), then the data
// section. The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]},
// offsets relative to the data section; an optional "__metadata__" maps strings to strings.
// The tensors must cover the data section exactly: no overlaps and no holes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/format/mapped_file.h"
#include "kernels/tensor.h"

namespace tessera::safetensors {

struct TensorInfo {
  std::string name;
  std::string_view dtype;      // as in the header: "F32", "BF16", "I64", ...
  std::vector<int64_t> shape;  // row-major: shape.back() is the innermost dimension
  uint64_t offset = 0;         // from the start of the data section
  uint64_t bytes = 0;
  const void* data = nullptr;  // into the mapped file
};

class SafetensorsFile {
 public:
  // Errors: NOT_FOUND (MODEL_FILE_NOT_FOUND) if the file does not exist; INVALID_ARGUMENT
  // (INVALID_MODEL_FILE) naming the file and what is wrong for a malformed file.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint64_t file_size() const { return file_.size(); }
  // Bytes of the data section, which the tensors cover exactly.
  uint64_t data_bytes() const { return data_bytes_; }

  // The "__metadata__" strings; empty when the header has none.
  const std::map<std::string, std::string, std::less<>>& metadata() const { return metadata_; }

  // In data-section order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* FindTensor(std::string_view name) const;  // nullptr when absent

  // A compute-ready view of tensor `name`. Errors: INVALID_ARGUMENT (INVALID_MODEL_FILE) if it is
  // absent or not aligned to its element size; UNIMPLEMENTED (UNSUPPORTED_TENSOR_TYPE) naming the
  // dtype if it is not F32, F16 or BF16, or naming the rank if a Tensor cannot hold it.
  absl::StatusOr<Tensor> GetTensor(std::string_view name) const;

 private:
  explicit SafetensorsFile(MappedFile file) : file_(std::move(file)) {}
  absl::Status Parse();

  MappedFile file_;
  uint64_t data_bytes_ = 0;
  std::map<std::string, std::string, std::less<>> metadata_;
  std::vector<TensorInfo> tensors_;
  absl::flat_hash_map<std::string_view, size_t> tensor_index_;  // keys view tensors_' names
};

}  // namespace tessera::safetensors
