// Builds safetensors files byte by byte as the format's README describes them, and scratch
// directories to put model directories in.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera::testing {

// `value` as 8 little-endian bytes, lowest first.
inline std::string LittleEndianU64(uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  return bytes;
}

inline std::string Bytes(std::initializer_list<uint8_t> values) {
  return std::string(values.begin(), values.end());
}

// The header length N, the N header bytes, then the data section.
inline std::string SafetensorsBytes(std::string_view header, std::string_view data) {
  return LittleEndianU64(header.size()) + std::string(header) + std::string(data);
}

// As SafetensorsBytes, with the header padded with spaces (which the format allows) so the data
// section starts at a multiple of 8, as the reference writer does.
inline std::string AlignedSafetensorsBytes(std::string_view header, std::string_view data) {
  std::string padded(header);
  while ((8 + padded.size()) % 8 != 0) padded.push_back(' ');
  return SafetensorsBytes(padded, data);
}

// A directory in the test temporary directory, removed with its content when this goes out of
// scope.
class ScratchDir {
 public:
  explicit ScratchDir(std::string_view name) : path_(ScratchPath(name)) {
    std::filesystem::remove_all(path_);
    EXPECT_EQ(mkdir(path_.c_str(), 0755), 0) << "cannot create " << path_;
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }
  void Write(std::string_view name, std::string_view bytes) const { WriteBytes(File(name), bytes); }

 private:
  std::string path_;
};

}  // namespace tessera::testing
