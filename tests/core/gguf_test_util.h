// Scratch files and status checks shared by the GGUF and llama2.c tests.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/util/error_reason.h"
#include "gtest/gtest.h"

namespace tessera::testing {

// A path in the test temporary directory, unique to the running test and process.
inline std::string ScratchPath(std::string_view name) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string path = std::string("tessera_") + test->test_suite_name() + "_" + test->name() +
                     "_" + std::to_string(getpid()) + "_" + std::string(name);
  std::replace(path.begin(), path.end(), '/', '_');  // parameterized tests have '/' in names
  return ::testing::TempDir() + path;
}

// A scratch path whose file, if any, is removed when this goes out of scope.
class ScratchFile {
 public:
  explicit ScratchFile(std::string_view name) : path_(ScratchPath(name)) {}
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteBytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// INVALID_ARGUMENT with reason INVALID_MODEL_FILE whose message contains `expected`.
inline ::testing::AssertionResult IsInvalidModelFile(const absl::Status& status,
                                                     std::string_view expected) {
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "expected INVALID_ARGUMENT, got " << status;
  }
  if (ErrorReasonOf(status) != "INVALID_MODEL_FILE") {
    return ::testing::AssertionFailure() << "expected reason INVALID_MODEL_FILE: " << status;
  }
  if (std::string(status.message()).find(expected) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks \"" << expected << "\": " << status;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace tessera::testing
