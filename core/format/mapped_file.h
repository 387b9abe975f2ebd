// A whole file mapped read-only into memory: model weights are used in place, never copied.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace tessera {

class MappedFile {
 public:
  // Errors: NOT_FOUND (MODEL_FILE_NOT_FOUND) when `path` does not exist; INVALID_ARGUMENT
  // (INVALID_MODEL_FILE) when it is not a regular file or cannot be read or mapped.
  static absl::StatusOr<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  // nullptr for an empty file, which cannot be mapped.
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  std::string_view bytes() const {
    return std::string_view(reinterpret_cast<const char*>(data_), size_);
  }

 private:
  explicit MappedFile(std::string path) : path_(std::move(path)) {}

  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace tessera
