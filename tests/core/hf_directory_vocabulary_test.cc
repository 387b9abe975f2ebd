// A SentencePiece-style tokenizer.json smaller than the checkpoint's embedding table (as Phi-3's:
// 32011 tokens, 32064 rows) is padded to config.json's vocab_size with unused "[PAD<id>]"
// tokens, as llama.cpp's converter pads it. (The byte-level case is in
// hf_directory_engine_test.cc.)
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/models/hf_directory.h"
#include "core/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/hf_directory_test_util.h"

namespace tessera {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Le;

TEST(HfDirectoryVocabularyTest, SentencePieceStyleVocabularyIsPaddedToTheEmbeddings) {
  namespace fs = std::filesystem;
  testing::ScratchDirectory dir("phi3");
  const fs::path phi3 = fs::path(TESSERA_TEST_DATA_DIR) / "hf_tiny/phi3";
  for (const char* file : {"config.json", "model.safetensors"}) {
    fs::copy_file(phi3 / file, fs::path(dir.path()) / file);
  }
  // Six pieces; "ab" (rule 0) scores 0 and "▁a" (rule 1) -1, the others below both.
  const nlohmann::json tokenizer_json = {
      {"model",
       {{"type", "BPE"},
        {"vocab", {{"<unk>", 0}, {"▁", 1}, {"a", 2}, {"b", 3}, {"▁a", 4}, {"ab", 5}}},
        {"merges", {"a b", "▁ a"}},
        {"unk_token", "<unk>"},
        {"byte_fallback", false}}},
      {"pre_tokenizer",
       {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"},
        {"split", false}}},
  };
  testing::WriteJson(fs::path(dir.path()) / "tokenizer.json", tokenizer_json);

  auto file = OpenHfDirectory(dir.path(), /*require_tokenizer=*/true);
  ASSERT_TRUE(file.ok()) << file.status();
  auto tokens = (*file)->GetStringArray("tokenizer.ggml.tokens");
  auto types = (*file)->GetIntArray("tokenizer.ggml.token_type");
  auto scores = (*file)->GetFloatArray("tokenizer.ggml.scores");
  ASSERT_TRUE(tokens.ok() && types.ok() && scores.ok());
  ASSERT_EQ(tokens->size(), 512u);  // config.json's vocab_size
  ASSERT_EQ(types->size(), 512u);
  ASSERT_EQ(scores->size(), 512u);
  EXPECT_EQ((*tokens)[5], "ab");
  EXPECT_EQ((*tokens)[6], "[PAD6]");
  EXPECT_EQ((*tokens)[511], "[PAD511]");
  EXPECT_EQ((*types)[6], static_cast<int64_t>(TokenType::kUnused));
  EXPECT_EQ((*types)[511], static_cast<int64_t>(TokenType::kUnused));
  // Padding scores no higher than "a", which no rule forms.
  EXPECT_THAT(std::vector<float>(scores->begin() + 6, scores->end()), Each(Le((*scores)[2])));

  auto tokenizer = TokenizerFromGguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->vocab_size(), 512);
  // "▁ab": "a b" (rank 0) merges before "▁ a" (rank 1), as without the padding.
  EXPECT_THAT((*tokenizer)->Encode("ab"), ElementsAre(1, 5));
}

}  // namespace
}  // namespace tessera
