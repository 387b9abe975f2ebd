// Reads little-endian fields front to back from a byte range and never past its end. Every error
// is INVALID_ARGUMENT (INVALID_MODEL_FILE) naming the file and the field being read.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "core/format/model_file_error.h"
#include "core/util/status_macros.h"

namespace tessera {

class ByteCursor {
 public:
  static_assert(std::endian::native == std::endian::little,
                "fields are read in place as little-endian values");

  ByteCursor(std::string_view path, const void* data, uint64_t size)
      : path_(path), data_(static_cast<const uint8_t*>(data)), size_(size) {}

  uint64_t offset() const { return offset_; }
  uint64_t remaining() const { return size_ - offset_; }

  absl::Status Error(std::string_view what) const { return InvalidModelFileError(path_, what); }

  template <typename T>
  absl::StatusOr<T> Read(std::string_view what) {
    TESSERA_RETURN_IF_ERROR(Need(sizeof(T), what));
    T value;
    std::memcpy(&value, data_ + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }

  // The next `length` bytes, as a view into the range.
  absl::StatusOr<std::string_view> ReadBytes(uint64_t length, std::string_view what) {
    TESSERA_RETURN_IF_ERROR(Need(length, what));
    std::string_view bytes(reinterpret_cast<const char*>(data_ + offset_), length);
    offset_ += length;
    return bytes;
  }

 private:
  absl::Status Need(uint64_t bytes, std::string_view what) const {
    if (bytes <= remaining()) return absl::OkStatus();
    return Error(absl::StrFormat("truncated: %s at offset %d needs %d bytes but only %d remain",
                                 what, offset_, bytes, remaining()));
  }

  std::string_view path_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t offset_ = 0;
};

}  // namespace tessera
