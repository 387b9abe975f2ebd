// Reads the real GGUF files under models/ and tests/data and checks them against the values
// documented for them (tests/data/SOURCES.md and the shared test-data notes) and against the
// llama2.c checkpoint the model was converted from.
#include "core/format/gguf.h"

#include <cmath>
#include <cstring>
#include <map>

#include "core/util/error_reason.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera::gguf {
namespace {

using ::tessera::testing::IsInvalidModelFile;
using ::tessera::testing::ReadBytes;

const std::string kStoriesPath = std::string(TESSERA_MODELS_DIR) + "/stories260K.gguf";
const std::string kLlamaVocabPath =
    std::string(TESSERA_TEST_DATA_DIR) + "/tokenizer/ggml-vocab-llama-spm.gguf";

class StoriesGgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(kStoriesPath);
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = *std::move(file);
  }
  std::unique_ptr<GgufFile> file_;
};

TEST_F(StoriesGgufTest, Header) {
  EXPECT_EQ(file_->version(), 3u);
  EXPECT_EQ(file_->file_size(), 1185376u);
  EXPECT_EQ(file_->tensors().size(), 48u);
  EXPECT_EQ(file_->metadata().size(), 19u);
}

TEST_F(StoriesGgufTest, Hyperparameters) {
  EXPECT_EQ(file_->GetString("general.architecture").value(), "llama");
  EXPECT_EQ(file_->GetInt("llama.context_length").value(), 2048);
  EXPECT_EQ(file_->GetInt("llama.embedding_length").value(), 64);
  EXPECT_EQ(file_->GetInt("llama.feed_forward_length").value(), 172);
  EXPECT_EQ(file_->GetInt("llama.block_count").value(), 5);
  EXPECT_EQ(file_->GetInt("llama.attention.head_count").value(), 8);
  EXPECT_EQ(file_->GetInt("llama.attention.head_count_kv").value(), 4);
  EXPECT_EQ(file_->GetInt("llama.rope.dimension_count").value(), 8);
  // Stored as float32, so it reads back as the float nearest 1e-5.
  EXPECT_EQ(file_->GetFloat("llama.attention.layer_norm_rms_epsilon").value(),
            static_cast<double>(1e-5f));
}

TEST_F(StoriesGgufTest, MetadataKeepsFileOrderAndTypes) {
  const auto& metadata = file_->metadata();
  ASSERT_EQ(metadata.size(), 19u);
  EXPECT_EQ(metadata.front().first, "tokenizer.ggml.tokens");
  EXPECT_EQ(metadata.back().first, "llama.attention.layer_norm_rms_epsilon");
  const Value* bos = file_->Find("tokenizer.ggml.bos_token_id");
  ASSERT_NE(bos, nullptr);
  EXPECT_EQ(bos->type, ValueType::kUint32);
  EXPECT_EQ(bos->u, 1u);
  EXPECT_EQ(file_->Find("no.such.key"), nullptr);
}

TEST_F(StoriesGgufTest, Tokenizer) {
  EXPECT_EQ(file_->GetString("tokenizer.ggml.model").value(), "llama");
  EXPECT_EQ(file_->GetInt("tokenizer.ggml.unknown_token_id").value(), 0);
  EXPECT_EQ(file_->GetInt("tokenizer.ggml.bos_token_id").value(), 1);
  EXPECT_EQ(file_->GetInt("tokenizer.ggml.eos_token_id").value(), 2);
  // "None" is written as UINT32_MAX by llama.cpp's converter.
  EXPECT_EQ(file_->GetInt("tokenizer.ggml.padding_token_id").value(), 4294967295);

  const std::vector<std::string_view> tokens =
      file_->GetStringArray("tokenizer.ggml.tokens").value();
  const std::vector<float> scores = file_->GetFloatArray("tokenizer.ggml.scores").value();
  const std::vector<int64_t> types = file_->GetIntArray("tokenizer.ggml.token_type").value();
  ASSERT_EQ(tokens.size(), 512u);
  ASSERT_EQ(scores.size(), 512u);
  ASSERT_EQ(types.size(), 512u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(tokens[3], "<0x00>");
  EXPECT_EQ(tokens[13], "<0x0A>");
  EXPECT_EQ(tokens[300], "\u2581ha");
  EXPECT_EQ(scores[300], -41.0f);
  EXPECT_EQ(scores[511], -252.0f);
  // 1 unknown, 2 control, 256 byte tokens, the rest normal.
  std::map<int64_t, int> type_counts;
  for (int64_t type : types) ++type_counts[type];
  EXPECT_EQ(type_counts, (std::map<int64_t, int>{{1, 253}, {2, 1}, {3, 2}, {6, 256}}));
}

TEST_F(StoriesGgufTest, TensorInfos) {
  const TensorInfo* embd = file_->FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, GgmlType::kF32);
  EXPECT_EQ(embd->dims, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(embd->offset, 0u);
  EXPECT_EQ(embd->bytes, 512u * 64 * 4);

  const TensorInfo* ffn_down = file_->FindTensor("blk.4.ffn_down.weight");
  ASSERT_NE(ffn_down, nullptr);
  EXPECT_EQ(ffn_down->dims, (std::vector<int64_t>{172, 64}));
  EXPECT_EQ(file_->FindTensor("blk.5.ffn_down.weight"), nullptr);

  for (const TensorInfo& info : file_->tensors()) {
    SCOPED_TRACE(info.name);
    EXPECT_EQ(info.type, GgmlType::kF32);
    int64_t elements = 1;
    for (int64_t dim : info.dims) elements *= dim;
    EXPECT_EQ(info.bytes, static_cast<size_t>(elements) * 4);
  }
}

TEST_F(StoriesGgufTest, TensorDataSitsWhereTheFileSaysItDoes) {
  // The tensor infos end at byte 14152, so the data section starts at the next multiple of 32.
  const std::string bytes = ReadBytes(kStoriesPath);
  constexpr size_t kDataStart = 14176;
  for (const TensorInfo& info : file_->tensors()) {
    SCOPED_TRACE(info.name);
    ASSERT_LE(kDataStart + info.offset + info.bytes, bytes.size());
    EXPECT_EQ(std::memcmp(info.data, bytes.data() + kDataStart + info.offset, info.bytes), 0);
  }
}

TEST_F(StoriesGgufTest, EmbeddingEqualsTheLlama2cCheckpoint) {
  // The .bin starts with a 28-byte header, then the [vocab, dim] embedding table.
  const std::string bin = ReadBytes(std::string(TESSERA_TEST_DATA_DIR) +
                                    "/llama2c/stories260K.bin");
  const absl::StatusOr<Tensor> embd = file_->GetTensor("token_embd.weight");
  ASSERT_TRUE(embd.ok()) << embd.status();
  EXPECT_EQ(embd->dtype, DType::kF32);
  ASSERT_EQ(embd->rank, 2);
  EXPECT_EQ(embd->shape[0], 512);  // row-major: [vocab, dim]
  EXPECT_EQ(embd->shape[1], 64);
  ASSERT_GE(bin.size(), 28 + embd->bytes());
  EXPECT_EQ(std::memcmp(embd->data, bin.data() + 28, embd->bytes()), 0);
}

TEST_F(StoriesGgufTest, GetTensorReversesTheFileDims) {
  const absl::StatusOr<Tensor> ffn_down = file_->GetTensor("blk.0.ffn_down.weight");
  ASSERT_TRUE(ffn_down.ok()) << ffn_down.status();
  ASSERT_EQ(ffn_down->rank, 2);
  EXPECT_EQ(ffn_down->shape[0], 64);   // rows: dim
  EXPECT_EQ(ffn_down->shape[1], 172);  // columns: hidden
  const absl::StatusOr<Tensor> norm = file_->GetTensor("output_norm.weight");
  ASSERT_TRUE(norm.ok()) << norm.status();
  ASSERT_EQ(norm->rank, 1);
  EXPECT_EQ(norm->shape[0], 64);
}

TEST_F(StoriesGgufTest, GetterErrorsNameTheKeyAndType) {
  EXPECT_TRUE(IsInvalidModelFile(file_->GetString("llama.block_count").status(),
                                 "'llama.block_count' has type uint32, expected string"));
  EXPECT_TRUE(IsInvalidModelFile(file_->GetInt("general.architecture").status(),
                                 "'general.architecture' has type string"));
  EXPECT_TRUE(IsInvalidModelFile(file_->GetFloat("llama.block_count").status(),
                                 "expected float32 or float64"));
  EXPECT_TRUE(IsInvalidModelFile(file_->GetBool("llama.block_count").status(), "expected bool"));
  EXPECT_TRUE(IsInvalidModelFile(file_->GetIntArray("tokenizer.ggml.scores").status(),
                                 "has type array of float32"));
  EXPECT_TRUE(IsInvalidModelFile(file_->GetStringArray("tokenizer.ggml.scores").status(),
                                 "expected array of string"));
  EXPECT_TRUE(IsInvalidModelFile(file_->GetInt("llama.vocab_size").status(),
                                 "missing metadata key 'llama.vocab_size'"));
  EXPECT_TRUE(IsInvalidModelFile(file_->GetTensor("blk.9.attn_q.weight").status(),
                                 "no tensor 'blk.9.attn_q.weight'"));
}

TEST_F(StoriesGgufTest, FloatArrayAcceptsIntegers) {
  const std::vector<float> types = file_->GetFloatArray("tokenizer.ggml.token_type").value();
  ASSERT_EQ(types.size(), 512u);
  EXPECT_EQ(types[0], 2.0f);
  EXPECT_EQ(types[3], 6.0f);
}

TEST(GgufVocabFileTest, LlamaSentencePieceVocabulary) {
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(kLlamaVocabPath);
  ASSERT_TRUE(file.ok()) << file.status();
  const GgufFile& vocab = **file;
  EXPECT_EQ(vocab.version(), 3u);
  EXPECT_TRUE(vocab.tensors().empty());
  EXPECT_EQ(vocab.metadata().size(), 22u);
  EXPECT_EQ(vocab.GetString("tokenizer.ggml.model").value(), "llama");
  EXPECT_EQ(vocab.GetInt("tokenizer.ggml.bos_token_id").value(), 1);
  EXPECT_EQ(vocab.GetInt("tokenizer.ggml.eos_token_id").value(), 2);
  EXPECT_TRUE(vocab.GetBool("tokenizer.ggml.add_bos_token").value());
  EXPECT_FALSE(vocab.GetBool("tokenizer.ggml.add_eos_token").value());

  const std::vector<std::string_view> tokens =
      vocab.GetStringArray("tokenizer.ggml.tokens").value();
  const std::vector<float> scores = vocab.GetFloatArray("tokenizer.ggml.scores").value();
  const std::vector<int64_t> types = vocab.GetIntArray("tokenizer.ggml.token_type").value();
  ASSERT_EQ(tokens.size(), 32000u);
  ASSERT_EQ(scores.size(), 32000u);
  ASSERT_EQ(types.size(), 32000u);
  // Well-known ids of the Llama 2 vocabulary.
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[13], "<0x0A>");
  EXPECT_EQ(tokens[450], "\u2581The");
  EXPECT_EQ(tokens[29871], "\u2581");
  EXPECT_EQ(scores[450], -191.0f);
  EXPECT_EQ(types[13], 6);
  EXPECT_EQ(types[450], 1);
}

}  // namespace
}  // namespace tessera::gguf
