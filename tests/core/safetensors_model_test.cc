// SafetensorsModel on model directories written by hand: a single model.safetensors, and shards
// named by model.safetensors.index.json in the layout Hugging Face uses. A broken index (missing
// shard, tensor absent from its shard, a shard name reaching outside the directory) is refused
// with INVALID_MODEL_FILE naming the index and the problem.
#include "core/format/safetensors_model.h"

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/util/error_reason.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"
#include "tests/core/safetensors_test_util.h"

namespace tessera::safetensors {
namespace {

using ::tessera::testing::AlignedSafetensorsBytes;
using ::tessera::testing::Bytes;
using ::tessera::testing::IsInvalidModelFile;
using ::tessera::testing::ScratchDir;
using ::tessera::testing::ScratchFile;
using ::tessera::testing::WriteBytes;

constexpr std::string_view kShard1 = "model-00001-of-00002.safetensors";
constexpr std::string_view kShard2 = "model-00002-of-00002.safetensors";

// Shard 1: model.embed_tokens.weight, F32 [2, 3] = {1, 2, 3, 4, 5, 6}.
std::string Shard1() {
  return AlignedSafetensorsBytes(
      R"({"model.embed_tokens.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})",
      Bytes({0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40,      // 1, 2, 3
             0, 0, 0x80, 0x40, 0, 0, 0xa0, 0x40, 0, 0, 0xc0, 0x40}));  // 4, 5, 6
}

// Shard 2: lm_head.weight, F32 [3] = {-1, 0.5, 8}; model.norm.weight, BF16 [2] = {1, -2}; and
// "unlisted", which the index does not map.
std::string Shard2() {
  return AlignedSafetensorsBytes(
      R"({"lm_head.weight":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
      R"("model.norm.weight":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},)"
      R"("unlisted":{"dtype":"U8","shape":[1],"data_offsets":[16,17]}})",
      Bytes({0, 0, 0x80, 0xbf, 0, 0, 0, 0x3f, 0, 0, 0, 0x41,  // -1, 0.5, 8
             0x80, 0x3f, 0x00, 0xc0,                          // bf16 1, -2
             0x2a}));
}

// The index as Hugging Face writes it; total_size is the sum of the mapped tensors' bytes.
constexpr std::string_view kIndex = R"({
  "metadata": {"total_size": 40},
  "weight_map": {
    "lm_head.weight": "model-00002-of-00002.safetensors",
    "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
    "model.norm.weight": "model-00002-of-00002.safetensors"
  }
})";

std::vector<float> FloatValues(const Tensor& tensor) {
  std::vector<float> values(tensor.numel());
  std::memcpy(values.data(), tensor.data, values.size() * sizeof(float));
  return values;
}

class SafetensorsModelTest : public ::testing::Test {
 protected:
  void WriteShardedModel() {
    dir_.Write(kShard1, Shard1());
    dir_.Write(kShard2, Shard2());
    dir_.Write(kIndexFileName, kIndex);
  }

  // Writes the shards and `index`, opens the directory and checks the error names the index
  // and contains `expected`.
  void ExpectIndexRejected(std::string_view index, std::string_view expected) {
    WriteShardedModel();
    dir_.Write(kIndexFileName, index);
    const absl::Status status = SafetensorsModel::Open(dir_.path()).status();
    EXPECT_TRUE(IsInvalidModelFile(status, expected));
    EXPECT_TRUE(IsInvalidModelFile(status, dir_.File(kIndexFileName) + ": "));
  }

  ScratchDir dir_{"model"};
};

TEST_F(SafetensorsModelTest, OpensSingleFile) {
  dir_.Write(kSingleFileName, Shard1());
  absl::StatusOr<std::unique_ptr<SafetensorsModel>> model = SafetensorsModel::Open(dir_.path());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->files().size(), 1u);
  EXPECT_EQ((*model)->TensorNames(), std::vector<std::string_view>{"model.embed_tokens.weight"});
  EXPECT_EQ((*model)->total_bytes(), 24u);
  absl::StatusOr<Tensor> embed = (*model)->GetTensor("model.embed_tokens.weight");
  ASSERT_TRUE(embed.ok()) << embed.status();
  EXPECT_EQ(embed->rows(), 2);
  EXPECT_EQ(embed->cols(), 3);
  EXPECT_EQ(FloatValues(*embed), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST_F(SafetensorsModelTest, FindsTensorsAcrossShards) {
  WriteShardedModel();
  absl::StatusOr<std::unique_ptr<SafetensorsModel>> model = SafetensorsModel::Open(dir_.path());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->files().size(), 2u);  // shard 2 holds two mapped tensors, opened once
  EXPECT_EQ((*model)->TensorNames(),
            (std::vector<std::string_view>{"lm_head.weight", "model.embed_tokens.weight",
                                           "model.norm.weight"}));
  EXPECT_EQ((*model)->total_bytes(), 40u);

  absl::StatusOr<Tensor> embed = (*model)->GetTensor("model.embed_tokens.weight");
  ASSERT_TRUE(embed.ok()) << embed.status();
  EXPECT_EQ(FloatValues(*embed), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  absl::StatusOr<Tensor> lm_head = (*model)->GetTensor("lm_head.weight");
  ASSERT_TRUE(lm_head.ok()) << lm_head.status();
  EXPECT_EQ(FloatValues(*lm_head), (std::vector<float>{-1, 0.5, 8}));
  absl::StatusOr<Tensor> norm = (*model)->GetTensor("model.norm.weight");
  ASSERT_TRUE(norm.ok()) << norm.status();
  EXPECT_EQ(norm->dtype, DType::kBF16);
  uint16_t norm_bits[2];
  std::memcpy(norm_bits, norm->data, sizeof(norm_bits));
  EXPECT_EQ(norm_bits[0], 0x3f80);  // bf16 1.0
  EXPECT_EQ(norm_bits[1], 0xc000);  // bf16 -2.0

  const TensorInfo* norm_info = (*model)->FindTensor("model.norm.weight");
  ASSERT_NE(norm_info, nullptr);
  EXPECT_EQ(norm_info->dtype, "BF16");
  EXPECT_EQ(norm_info->shape, std::vector<int64_t>{2});
}

// Only what the index maps belongs to the model, as with Hugging Face's loader.
TEST_F(SafetensorsModelTest, TensorsTheIndexDoesNotMapAreNotPartOfTheModel) {
  WriteShardedModel();
  absl::StatusOr<std::unique_ptr<SafetensorsModel>> model = SafetensorsModel::Open(dir_.path());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->FindTensor("unlisted"), nullptr);
  EXPECT_TRUE(IsInvalidModelFile((*model)->GetTensor("unlisted").status(),
                                 dir_.path() + ": has no tensor 'unlisted'"));
}

TEST_F(SafetensorsModelTest, MissingDirectoryIsNotFound) {
  const absl::Status status = SafetensorsModel::Open(dir_.File("absent")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(status), "MODEL_FILE_NOT_FOUND");
}

TEST_F(SafetensorsModelTest, DirectoryWithoutWeightsIsNotFound) {
  const absl::Status status = SafetensorsModel::Open(dir_.path()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(status), "MODEL_FILE_NOT_FOUND");
  EXPECT_NE(status.message().find("has neither model.safetensors nor "
                                  "model.safetensors.index.json"),
            std::string::npos)
      << status;
}

TEST_F(SafetensorsModelTest, FileInsteadOfDirectoryIsRefused) {
  const ScratchFile file("not_a_dir");
  WriteBytes(file.path(), "{}");
  EXPECT_TRUE(IsInvalidModelFile(SafetensorsModel::Open(file.path()).status(),
                                 file.path() + ": is not a directory"));
}

TEST_F(SafetensorsModelTest, MissingShardIsRefused) {
  WriteShardedModel();
  std::filesystem::remove(dir_.File(kShard2));
  const absl::Status status = SafetensorsModel::Open(dir_.path()).status();
  EXPECT_TRUE(IsInvalidModelFile(status, dir_.File(kIndexFileName) + ": "));
  EXPECT_TRUE(IsInvalidModelFile(
      status, "to shard \"model-00002-of-00002.safetensors\", which does not exist"));
}

TEST_F(SafetensorsModelTest, TensorMissingFromItsShardIsRefused) {
  ExpectIndexRejected(
      R"({"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors"}})",
      "maps tensor 'model.norm.weight' to shard \"model-00001-of-00002.safetensors\", which has "
      "no such tensor");
}

TEST_F(SafetensorsModelTest, ShardNamesReachingOutsideTheDirectoryAreRefused) {
  // A valid shard beside the model directory, which a traversing name would reach.
  const ScratchFile outside("outside.safetensors");
  WriteBytes(outside.path(), Shard1());
  const std::string outside_name = outside.path().substr(outside.path().rfind('/') + 1);
  for (const std::string& shard :
       {"../" + outside_name, outside.path(), std::string("sub/") + std::string(kShard1),
        std::string(".."), std::string("."), std::string(""), std::string("a\\\\b")}) {
    SCOPED_TRACE(shard);
    ExpectIndexRejected(
        absl::StrFormat(R"({"weight_map": {"model.embed_tokens.weight": "%s"}})", shard),
        "which is not a plain file name inside the directory");
  }
}

TEST_F(SafetensorsModelTest, MalformedIndexIsRefused) {
  ExpectIndexRejected(R"({"weight_map": )", "content is not valid JSON");
  ExpectIndexRejected("[]", "is an array, expected an object");
  ExpectIndexRejected(R"({"metadata": {}})", "has no \"weight_map\"");
  ExpectIndexRejected(R"({"weight_map": ["a"]})",
                      "has \"weight_map\" that is an array, expected an object");
  ExpectIndexRejected(R"({"metadata": 40, "weight_map": {}})",
                      "has \"metadata\" that is an integer, expected an object");
  ExpectIndexRejected(R"({"weight_map": {"lm_head.weight": 2}})",
                      "maps tensor 'lm_head.weight' to an integer, expected a shard file name");
}

TEST_F(SafetensorsModelTest, MalformedShardIsRefusedNamingTheShard) {
  WriteShardedModel();
  dir_.Write(kShard2, Shard2().substr(0, 40));
  EXPECT_TRUE(IsInvalidModelFile(SafetensorsModel::Open(dir_.path()).status(),
                                 dir_.File(kShard2) + ": truncated: header"));
}

}  // namespace
}  // namespace tessera::safetensors
