// EndOfGenerationIds: every metadata key that names an end-of-generation token, read from GGUF
// images written with GgufWriter.
#include "core/engine/end_of_generation.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "core/format/gguf_writer.h"
#include "core/models/hf_directory.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int32_t kVocabSize = 32;

absl::StatusOr<std::vector<int32_t>> IdsOf(const gguf::GgufWriter& metadata) {
  auto file = gguf::GgufFile::FromParts("model.gguf", metadata.Serialize(), {}, nullptr);
  if (!file.ok()) return file.status();
  return EndOfGenerationIds(**file, kVocabSize);
}

TEST(EndOfGenerationIdsTest, NoneWithoutAnyKey) {
  gguf::GgufWriter metadata;
  metadata.AddString("general.architecture", "llama");
  auto ids = IdsOf(metadata);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, IsEmpty());
}

TEST(EndOfGenerationIdsTest, TheTokenizersEos) {
  gguf::GgufWriter metadata;
  metadata.AddUint32("tokenizer.ggml.eos_token_id", 2);
  auto ids = IdsOf(metadata);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre(2));
}

TEST(EndOfGenerationIdsTest, EosEotAndEom) {
  gguf::GgufWriter metadata;
  metadata.AddUint32("tokenizer.ggml.eos_token_id", 30);
  metadata.AddUint32("tokenizer.ggml.eot_token_id", 7);
  metadata.AddUint32("tokenizer.ggml.eom_token_id", 12);
  auto ids = IdsOf(metadata);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre(7, 12, 30));
}

TEST(EndOfGenerationIdsTest, GenerationConfigListJoinsTheEosOnce) {
  gguf::GgufWriter metadata;
  metadata.AddUint32("tokenizer.ggml.eos_token_id", 9);
  const std::vector<int32_t> listed = {9, 31, 4};  // Llama 3 lists its tokenizer's EOS too
  metadata.AddArray<int32_t>(kEosTokenIdsKey, listed);
  auto ids = IdsOf(metadata);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre(4, 9, 31));
}

TEST(EndOfGenerationIdsTest, ListedIdOutsideTheVocabularyIsInvalid) {
  gguf::GgufWriter metadata;
  metadata.AddUint32("tokenizer.ggml.eos_token_id", 2);
  const std::vector<int32_t> listed = {2, kVocabSize};
  metadata.AddArray<int32_t>(kEosTokenIdsKey, listed);
  auto ids = IdsOf(metadata);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(ids.status()), std::string(reason::kInvalidModelFile));
  EXPECT_THAT(ids.status().message(),
              HasSubstr("model.gguf: tokenizer.ggml.eos_token_ids holds token id 32"));
}

TEST(EndOfGenerationIdsTest, NegativeEotIsInvalid) {
  gguf::GgufWriter metadata;
  metadata.AddInt32("tokenizer.ggml.eot_token_id", -1);
  auto ids = IdsOf(metadata);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(ids.status()), std::string(reason::kInvalidModelFile));
  EXPECT_THAT(ids.status().message(), HasSubstr("tokenizer.ggml.eot_token_id holds token id -1"));
}

TEST(EndOfGenerationIdsTest, ListOfAnotherTypeIsInvalid) {
  gguf::GgufWriter metadata;
  metadata.AddString(kEosTokenIdsKey, "2");
  auto ids = IdsOf(metadata);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(ids.status()), std::string(reason::kInvalidModelFile));
  EXPECT_THAT(ids.status().message(), HasSubstr(std::string(kEosTokenIdsKey)));
}

}  // namespace
}  // namespace tessera
