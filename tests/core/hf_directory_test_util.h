// A complete Hugging Face model directory for tests: the tiny Qwen2 checkpoint of
// tests/data/hf_tiny/qwen2 (512 embedding rows) with a small byte-level BPE tokenizer.json, a
// tokenizer_config.json with a chat template, and a generation_config.json, as a model hub
// repository lays them out. transformers' greedy continuation of the reference prompt is the
// expectation to generate against.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/byte_level.h"
#include "gtest/gtest.h"

namespace tessera::testing {

inline const std::string kTinyQwen2Dir = std::string(TESSERA_TEST_DATA_DIR) + "/hf_tiny/qwen2";

// The tokenizer's ids: the 256 byte tokens (id = byte), merges up to kMergedTokensEnd, then the
// added special tokens. The embedding table's rows from kSpecialTokensEnd to 512 have no token.
inline constexpr int32_t kMergedTokensEnd = 500;
inline constexpr int32_t kEndOfTextId = 500;  // <|endoftext|>
inline constexpr int32_t kImStartId = 501;    // <|im_start|>
inline constexpr int32_t kImEndId = 502;      // <|im_end|>, tokenizer_config.json's eos_token
inline constexpr int32_t kSpecialTokensEnd = 503;

// ChatML, as Qwen's templates write it.
inline constexpr char kChatTemplate[] =
    "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

// The first prompt of tests/data/hf_tiny/qwen2/reference.json and transformers' greedy tokens.
struct ReferencePrompt {
  std::vector<int32_t> tokens;
  std::vector<int32_t> greedy;
};

inline ReferencePrompt ReadReferencePrompt() {
  std::ifstream file(kTinyQwen2Dir + "/reference.json");
  const nlohmann::json prompt = nlohmann::json::parse(file).at("prompts").at(0);
  return {prompt.at("tokens").get<std::vector<int32_t>>(),
          prompt.at("greedy").get<std::vector<int32_t>>()};
}

// tokenizer.json in the Hugging Face format: BPE over GPT-2's byte-level alphabet, whose merges
// join "Ġ" with each lowercase letter, then pairs of lowercase letters, until kMergedTokensEnd.
inline nlohmann::json TinyTokenizerJson() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int byte = 0; byte < 256; ++byte) {
    vocab[std::string(ByteLevelCharacter(static_cast<uint8_t>(byte)))] = byte;
  }
  std::vector<std::pair<std::string, std::string>> merges;
  for (char letter = 'a'; letter <= 'z'; ++letter) merges.push_back({"Ġ", std::string(1, letter)});
  for (char first = 'a'; first <= 'z'; ++first) {
    for (char second = 'a'; second <= 'z'; ++second) {
      merges.push_back({std::string(1, first), std::string(1, second)});
    }
  }
  merges.resize(kMergedTokensEnd - 256);
  nlohmann::json merge_list = nlohmann::json::array();
  for (int32_t i = 0; i < static_cast<int32_t>(merges.size()); ++i) {
    vocab[merges[i].first + merges[i].second] = 256 + i;
    merge_list.push_back({merges[i].first, merges[i].second});
  }
  nlohmann::json added = nlohmann::json::array();
  for (const auto& [id, content] : {std::pair<int32_t, const char*>{kEndOfTextId, "<|endoftext|>"},
                                    {kImStartId, "<|im_start|>"},
                                    {kImEndId, "<|im_end|>"}}) {
    added.push_back({{"id", id}, {"content", content}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                     {"special", true}});
  }
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
            {"use_regex", true}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
            {"byte_fallback", false}, {"ignore_merges", false}, {"vocab", vocab},
            {"merges", merge_list}}}};
}

inline void WriteJson(const std::filesystem::path& path, const nlohmann::json& json) {
  std::ofstream out(path);
  out << json.dump(2);
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// A directory in the test temporary directory, unique to the running test and process, removed
// with everything in it when this goes out of scope.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(const std::string& name) {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string leaf = std::string("tessera_") + test->test_suite_name() + "_" + test->name() +
                       "_" + std::to_string(getpid()) + "_" + name;
    std::replace(leaf.begin(), leaf.end(), '/', '_');  // parameterized tests have '/' in names
    path_ = std::filesystem::path(::testing::TempDir()) / leaf;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Writes the complete model directory into `dir`; generation_config.json lists `eos_token_ids`.
inline void WriteTinyQwen2Directory(const std::string& dir,
                                    const std::vector<int32_t>& eos_token_ids) {
  namespace fs = std::filesystem;
  for (const char* file : {"config.json", "model.safetensors"}) {
    fs::copy_file(fs::path(kTinyQwen2Dir) / file, fs::path(dir) / file,
                  fs::copy_options::overwrite_existing);
  }
  WriteJson(fs::path(dir) / "tokenizer.json", TinyTokenizerJson());
  WriteJson(fs::path(dir) / "tokenizer_config.json",
            {{"add_bos_token", false},
             {"bos_token", nullptr},
             {"eos_token", "<|im_end|>"},
             {"chat_template", kChatTemplate}});
  WriteJson(fs::path(dir) / "generation_config.json",
            {{"eos_token_id", eos_token_ids}});
}

}  // namespace tessera::testing
