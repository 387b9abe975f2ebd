#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/format/gguf.h"
#include "core/format/gguf_writer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The tokenizer.ggml.* entries of a small SentencePiece-style vocabulary; tests change one.
struct VocabularyMetadata {
  std::optional<std::string> model = "llama";
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "▁", "h", "i", "▁h", "▁hi"};
  std::vector<float> scores = {0, 0, 0, -3, -3, -3, -1, -2};
  std::vector<int32_t> types = {2, 3, 3, 1, 1, 1, 1, 1};  // unknown, control, normal
  std::optional<uint32_t> bos_id = 1;
  std::optional<uint32_t> eos_id = 2;
  std::optional<uint32_t> unknown_id = 0;
  std::optional<bool> add_bos;
  std::optional<bool> add_space_prefix;
};
constexpr int32_t kSpaceHi = 7;  // "▁hi"

// Writes `metadata` as a GGUF file, opens it and builds its tokenizer (the file is closed
// again before this returns).
absl::StatusOr<std::unique_ptr<Tokenizer>> BuildTokenizer(const VocabularyMetadata& metadata) {
  gguf::GgufWriter writer;
  writer.AddString("general.architecture", "llama");
  if (metadata.model) writer.AddString("tokenizer.ggml.model", *metadata.model);
  writer.AddArray<std::string>("tokenizer.ggml.tokens", metadata.tokens);
  writer.AddArray<float>("tokenizer.ggml.scores", metadata.scores);
  writer.AddArray<int32_t>("tokenizer.ggml.token_type", metadata.types);
  if (metadata.bos_id) writer.AddUint32("tokenizer.ggml.bos_token_id", *metadata.bos_id);
  if (metadata.eos_id) writer.AddUint32("tokenizer.ggml.eos_token_id", *metadata.eos_id);
  if (metadata.unknown_id) {
    writer.AddUint32("tokenizer.ggml.unknown_token_id", *metadata.unknown_id);
  }
  if (metadata.add_bos) writer.AddBool("tokenizer.ggml.add_bos_token", *metadata.add_bos);
  if (metadata.add_space_prefix) {
    writer.AddBool("tokenizer.ggml.add_space_prefix", *metadata.add_space_prefix);
  }
  const std::string path = ::testing::TempDir() + "/" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                           ".gguf";
  if (absl::Status status = writer.WriteFile(path); !status.ok()) return status;
  auto file = gguf::GgufFile::Open(path);
  if (!file.ok()) return file.status();
  return TokenizerFromGguf(**file);
}

void ExpectInvalidModelFile(const VocabularyMetadata& metadata, const std::string& message_part) {
  auto tokenizer = BuildTokenizer(metadata);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument) << tokenizer.status();
  EXPECT_EQ(ErrorReasonOf(tokenizer.status()), std::string(reason::kInvalidModelFile));
  EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr(message_part));
}

TEST(TokenizerFromGgufTest, BuildsASentencePieceTokenizerForModelLlama) {
  auto tokenizer = BuildTokenizer(VocabularyMetadata{});
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->vocab_size(), 8);
  EXPECT_EQ((*tokenizer)->bos_id(), 1);
  EXPECT_EQ((*tokenizer)->eos_id(), 2);
  // "hi hi" is "▁hi▁hi" once spaces are escaped and the prefix added; "x" has no piece and the
  // vocabulary no byte tokens.
  EXPECT_THAT((*tokenizer)->Encode("hi hi"), ElementsAre(kSpaceHi, kSpaceHi));
  EXPECT_THAT((*tokenizer)->Encode("x"), ElementsAre(3, 0));
  EXPECT_EQ((*tokenizer)->TokenText(kSpaceHi), "▁hi");
  EXPECT_EQ((*tokenizer)->Decode((*tokenizer)->Encode("hi hi"), /*at_text_start=*/true), "hi hi");
}

TEST(TokenizerFromGgufTest, AddsBosAndSpacePrefixByDefault) {
  auto tokenizer = BuildTokenizer(VocabularyMetadata{});
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_TRUE((*tokenizer)->add_bos());
  EXPECT_TRUE((*tokenizer)->strips_leading_space());
}

TEST(TokenizerFromGgufTest, ReadsAddBosAndAddSpacePrefix) {
  VocabularyMetadata metadata;
  metadata.add_bos = false;
  metadata.add_space_prefix = false;
  auto tokenizer = BuildTokenizer(metadata);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_FALSE((*tokenizer)->add_bos());
  EXPECT_FALSE((*tokenizer)->strips_leading_space());
  // Without the prefix, "hi" starts with no "▁": "h" (4), "i" (5).
  EXPECT_THAT((*tokenizer)->Encode("hi"), ElementsAre(4, 5));
}

TEST(TokenizerFromGgufTest, OtherTokenizerModelsAreUnimplemented) {
  for (const char* model : {"bert", "t5"}) {
    VocabularyMetadata metadata;
    metadata.model = model;
    auto tokenizer = BuildTokenizer(metadata);
    ASSERT_FALSE(tokenizer.ok());
    EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_EQ(ErrorReasonOf(tokenizer.status()), std::string(reason::kUnsupportedArchitecture));
    EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr(model));
    EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr("not supported yet"));
  }
}

TEST(TokenizerFromGgufTest, MissingModelIsInvalid) {
  VocabularyMetadata metadata;
  metadata.model.reset();
  ExpectInvalidModelFile(metadata, "tokenizer.ggml.model");
}

TEST(TokenizerFromGgufTest, ArraysOfDifferentLengthsAreInvalid) {
  VocabularyMetadata fewer_scores;
  fewer_scores.scores.pop_back();
  ExpectInvalidModelFile(fewer_scores, "7 scores");
  VocabularyMetadata more_types;
  more_types.types.push_back(1);
  ExpectInvalidModelFile(more_types, "9 types");
}

TEST(TokenizerFromGgufTest, SpecialIdsOutOfRangeAreInvalid) {
  VocabularyMetadata bos;
  bos.bos_id = 8;
  ExpectInvalidModelFile(bos, "bos_token_id");
  VocabularyMetadata eos;
  eos.eos_id = 1000;
  ExpectInvalidModelFile(eos, "eos_token_id");
  VocabularyMetadata unknown;
  unknown.unknown_id = UINT32_MAX;  // what some converters write for "none"
  ExpectInvalidModelFile(unknown, "unknown_token_id");
}

TEST(TokenizerFromGgufTest, UnknownTokenTypeIsInvalid) {
  VocabularyMetadata metadata;
  metadata.types[4] = 7;
  ExpectInvalidModelFile(metadata, "type 7");
}

TEST(TokenizerFromGgufTest, AddBosWithoutBosIdIsInvalid) {
  VocabularyMetadata metadata;
  metadata.bos_id.reset();
  ExpectInvalidModelFile(metadata, "bos_token_id");
  metadata.add_bos = false;
  EXPECT_TRUE(BuildTokenizer(metadata).ok());
}

}  // namespace
}  // namespace tessera
