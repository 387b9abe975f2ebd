// GGUF reader: memory-maps a GGUF file (versions 2 and 3) and validates its header, every
// metadata entry and every tensor's offset and size before anything is handed out.
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/format/mapped_file.h"
#include "kernels/tensor.h"

namespace tessera::gguf {

// Metadata value types, numbered as in the file.
enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
std::string_view ValueTypeName(ValueType type);

// One metadata value. Strings point into the mapped file. Arrays hold their elements (arrays of
// arrays are allowed by the format and supported).
struct Value {
  ValueType type = ValueType::kUint8;
  ValueType element_type = ValueType::kUint8;  // for arrays
  // Exactly one of these is meaningful, chosen by `type`.
  uint64_t u = 0;              // unsigned integers and bool
  int64_t i = 0;               // signed integers
  double f = 0;                // floats
  std::string_view s;          // strings
  std::vector<Value> elements; // arrays
};

// ggml tensor types, numbered as in the file. Only F32, F16 and BF16 can be used for compute
// today; the rest are recognised so their sizes validate and errors can name them.
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15, kIQ2_XXS = 16,
  kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21, kIQ2_S = 22, kIQ4_XS = 23,
  kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kIQ1_M = 29, kBF16 = 30,
  kTQ1_0 = 34, kTQ2_0 = 35,
};
std::string_view GgmlTypeName(GgmlType type);

struct TensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<int64_t> dims;  // as stored: dims[0] is the innermost (contiguous) dimension
  uint64_t offset = 0;        // from the start of the tensor data section
  size_t bytes = 0;
  const void* data = nullptr; // into the mapped file
};

class GgufFile {
 public:
  // Errors: NOT_FOUND (reason MODEL_FILE_NOT_FOUND) if the file does not exist; INVALID_ARGUMENT
  // (reason INVALID_MODEL_FILE) naming what is wrong for a malformed file.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // A GgufFile whose tensors live elsewhere (a model converted in memory). `image` is a whole
  // GGUF image (header and metadata, normally no tensors), parsed and validated as Open parses a
  // file, with errors naming `path`; the GgufFile owns it. `tensors` (name, type, dims, bytes
  // and data; the offset is not used) are then added to those of the image. `keep_alive` is held
  // for the life of the GgufFile: whatever owns the tensors' data. Errors as for Open, and for a
  // tensor with a repeated name, invalid dims, no data or `bytes` that do not match its type and
  // dims.
  static absl::StatusOr<std::unique_ptr<GgufFile>> FromParts(
      std::string path, std::string image, std::vector<TensorInfo> tensors,
      std::shared_ptr<const void> keep_alive);
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  // The bytes parsed: the whole file, or for FromParts the image alone (no tensor data).
  uint64_t file_size() const { return bytes().size(); }
  const std::string& path() const { return path_; }

  // Metadata in file order, and lookup by key (nullptr when absent).
  const std::vector<std::pair<std::string_view, Value>>& metadata() const { return metadata_; }
  const Value* Find(std::string_view key) const;

  // Typed getters. NOT_FOUND-free: a missing key or a value of the wrong type is an
  // INVALID_ARGUMENT (reason INVALID_MODEL_FILE) naming the key and the type found.
  absl::StatusOr<std::string_view> GetString(std::string_view key) const;
  absl::StatusOr<int64_t> GetInt(std::string_view key) const;    // any integer type
  absl::StatusOr<double> GetFloat(std::string_view key) const;   // float32 or float64
  absl::StatusOr<bool> GetBool(std::string_view key) const;
  absl::StatusOr<std::vector<std::string_view>> GetStringArray(std::string_view key) const;
  absl::StatusOr<std::vector<float>> GetFloatArray(std::string_view key) const;  // any numeric
  absl::StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;  // any integer

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* FindTensor(std::string_view name) const;  // nullptr when absent

  // A compute-ready view of tensor `name` with shape in row-major order (outermost first, the
  // reverse of the file's dims). Errors: INVALID_ARGUMENT (INVALID_MODEL_FILE) if absent;
  // UNIMPLEMENTED (UNSUPPORTED_TENSOR_TYPE) naming the type if it is not F32, F16 or BF16.
  absl::StatusOr<Tensor> GetTensor(std::string_view name) const;

 private:
  GgufFile() = default;
  absl::Status Parse();
  absl::Status AddTensors(std::vector<TensorInfo> tensors);
  // What Parse reads: the mapped file or the image.
  std::string_view bytes() const { return mapped_ ? mapped_->bytes() : std::string_view(image_); }

  std::string path_;
  std::optional<MappedFile> mapped_;  // set by Open before Parse
  std::string image_;                 // set by FromParts before Parse
  std::shared_ptr<const void> keep_alive_;  // owns the data of the tensors FromParts adds
  uint32_t version_ = 0;
  std::vector<std::pair<std::string_view, Value>> metadata_;
  absl::flat_hash_map<std::string_view, size_t> metadata_index_;
  std::vector<TensorInfo> tensors_;
  absl::flat_hash_map<std::string_view, size_t> tensor_index_;
};

}  // namespace tessera::gguf
