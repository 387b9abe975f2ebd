// Tokenizer test vectors in llama.cpp's format (tests/data/SOURCES.md): test strings and the ids
// the Hugging Face tokenizer gives them (no special tokens added).
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace tessera::testing {

struct ReferenceCase {
  std::string text;
  std::vector<int32_t> ids = {};
};

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The texts of a file in the ".inp" format: separated by "\n__ggml_vocab_test__\n".
inline std::vector<std::string> ReadReferenceTexts(const std::string& path) {
  return absl::StrSplit(ReadFileBytes(path), "\n__ggml_vocab_test__\n");
}

// "<base>.inp" holds the strings (ReadReferenceTexts); "<base>.out" the ids, one line of
// space-separated ids per string.
inline std::vector<ReferenceCase> ReadReferenceCases(const std::string& inp_path,
                                                     const std::string& out_path) {
  const std::vector<std::string> texts = ReadReferenceTexts(inp_path);
  const std::vector<std::string> lines = absl::StrSplit(ReadFileBytes(out_path), '\n');
  EXPECT_EQ(texts.size(), lines.size()) << inp_path;
  std::vector<ReferenceCase> cases;
  for (size_t i = 0; i < texts.size() && i < lines.size(); ++i) {
    ReferenceCase reference{.text = texts[i]};
    for (absl::string_view field : absl::StrSplit(lines[i], ' ', absl::SkipEmpty())) {
      int32_t id = -1;
      EXPECT_TRUE(absl::SimpleAtoi(field, &id)) << out_path << " line " << i + 1;
      reference.ids.push_back(id);
    }
    cases.push_back(std::move(reference));
  }
  return cases;
}

}  // namespace tessera::testing
