// The llama2.c reader and the llama2.c -> GGUF conversion, checked against ggml-org's own
// conversion of the same checkpoint (models/stories260K.gguf): same tensors bit for bit, same
// vocabulary, same hyperparameters.
#include "core/format/llama2c.h"

#include <cstdio>
#include <cstring>

#include "core/format/gguf.h"
#include "core/format/llama2c_to_gguf.h"
#include "core/util/error_reason.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera::llama2c {
namespace {

using ::tessera::gguf::GgufFile;
using ::tessera::testing::IsInvalidModelFile;
using ::tessera::testing::ReadBytes;
using ::tessera::testing::ScratchFile;
using ::tessera::testing::ScratchPath;
using ::tessera::testing::WriteBytes;

const std::string kCheckpointPath = std::string(TESSERA_TEST_DATA_DIR) + "/llama2c/stories260K.bin";
const std::string kTokenizerPath = std::string(TESSERA_TEST_DATA_DIR) + "/llama2c/tok512.bin";
const std::string kReferencePath = std::string(TESSERA_MODELS_DIR) + "/stories260K.gguf";

std::unique_ptr<GgufFile> OpenGguf(const std::string& path) {
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *std::move(file) : nullptr;
}

class ConvertedStoriesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    converted_path_ = new std::string(::testing::TempDir() + "tessera_llama2c_converted_" +
                                      std::to_string(getpid()) + ".gguf");
    const absl::Status status = ConvertToGguf(kCheckpointPath, kTokenizerPath, *converted_path_);
    ASSERT_TRUE(status.ok()) << status;
  }
  static void TearDownTestSuite() {
    std::remove(converted_path_->c_str());
    delete converted_path_;
  }
  void SetUp() override {
    converted_ = OpenGguf(*converted_path_);
    reference_ = OpenGguf(kReferencePath);
    ASSERT_NE(converted_, nullptr);
    ASSERT_NE(reference_, nullptr);
  }

  static std::string* converted_path_;
  std::unique_ptr<GgufFile> converted_;
  std::unique_ptr<GgufFile> reference_;
};
std::string* ConvertedStoriesTest::converted_path_ = nullptr;

TEST_F(ConvertedStoriesTest, EveryTensorEqualsTheReference) {
  ASSERT_EQ(converted_->tensors().size(), reference_->tensors().size());
  for (const gguf::TensorInfo& expected : reference_->tensors()) {
    SCOPED_TRACE(expected.name);
    const gguf::TensorInfo* actual = converted_->FindTensor(expected.name);
    ASSERT_NE(actual, nullptr);
    EXPECT_EQ(actual->type, gguf::GgmlType::kF32);
    EXPECT_EQ(actual->dims, expected.dims);
    ASSERT_EQ(actual->bytes, expected.bytes);
    EXPECT_EQ(std::memcmp(actual->data, expected.data, expected.bytes), 0);
  }
}

TEST_F(ConvertedStoriesTest, VocabularyEqualsTheReference) {
  for (const char* key : {"tokenizer.ggml.model"}) {
    EXPECT_EQ(converted_->GetString(key).value(), reference_->GetString(key).value()) << key;
  }
  EXPECT_EQ(converted_->GetStringArray("tokenizer.ggml.tokens").value(),
            reference_->GetStringArray("tokenizer.ggml.tokens").value());
  const std::vector<float> scores = converted_->GetFloatArray("tokenizer.ggml.scores").value();
  const std::vector<float> expected_scores =
      reference_->GetFloatArray("tokenizer.ggml.scores").value();
  ASSERT_EQ(scores.size(), 512u);
  ASSERT_EQ(expected_scores.size(), 512u);
  EXPECT_EQ(std::memcmp(scores.data(), expected_scores.data(), 512 * sizeof(float)), 0);
  EXPECT_EQ(converted_->GetIntArray("tokenizer.ggml.token_type").value(),
            reference_->GetIntArray("tokenizer.ggml.token_type").value());
  for (const char* key : {"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id",
                          "tokenizer.ggml.eos_token_id"}) {
    EXPECT_EQ(converted_->GetInt(key).value(), reference_->GetInt(key).value()) << key;
    EXPECT_EQ(converted_->Find(key)->type, gguf::ValueType::kUint32) << key;
  }
}

TEST_F(ConvertedStoriesTest, HyperparametersEqualTheReference) {
  EXPECT_EQ(converted_->GetString("general.architecture").value(), "llama");
  EXPECT_EQ(converted_->GetString("general.name").value(), "stories260K");
  for (const char* key :
       {"llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
        "llama.attention.head_count", "llama.attention.head_count_kv",
        "llama.rope.dimension_count"}) {
    EXPECT_EQ(converted_->GetInt(key).value(), reference_->GetInt(key).value()) << key;
    EXPECT_EQ(converted_->Find(key)->type, gguf::ValueType::kUint32) << key;
  }
  EXPECT_EQ(converted_->GetFloat("llama.attention.layer_norm_rms_epsilon").value(),
            reference_->GetFloat("llama.attention.layer_norm_rms_epsilon").value());
  // The reference carries its converter's default context (2048); the checkpoint says the model
  // was trained on seq_len 512 (the last header field), and that is what is written.
  EXPECT_EQ(converted_->GetInt("llama.context_length").value(), 512);
}

TEST(Llama2cCheckpointTest, ReadsTheDocumentedHeader) {
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Read(kCheckpointPath);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const Config& config = (*checkpoint)->config();
  EXPECT_EQ(config.dim, 64);
  EXPECT_EQ(config.hidden_dim, 172);
  EXPECT_EQ(config.n_layers, 5);
  EXPECT_EQ(config.n_heads, 8);
  EXPECT_EQ(config.n_kv_heads, 4);
  EXPECT_EQ(config.vocab_size, 512);
  EXPECT_EQ(config.seq_len, 512);
  EXPECT_TRUE(config.shared_classifier);
  EXPECT_EQ(config.head_size(), 8);
  EXPECT_EQ(config.kv_dim(), 32);

  const Weights& w = (*checkpoint)->weights();
  EXPECT_EQ(w.token_embedding.size(), 512u * 64);
  EXPECT_EQ(w.wk.size(), 5u * 32 * 64);
  EXPECT_EQ(w.w2.size(), 5u * 64 * 172);
  EXPECT_EQ(w.wcls.data(), w.token_embedding.data());
  // rms_final sits right after the 5 * 3 * 172 * 64 feed-forward weights; the file stores it
  // at a float index counted by hand from the export order.
  const std::string bin = ReadBytes(kCheckpointPath);
  const size_t rms_final_index = 512 * 64 + 5 * 64 + 2 * 5 * 64 * 64 + 2 * 5 * 32 * 64 + 5 * 64 +
                                 3 * 5 * 172 * 64;
  EXPECT_EQ(std::memcmp(w.rms_final.data(), bin.data() + 28 + 4 * rms_final_index, 64 * 4), 0);
}

TEST(Llama2cVocabularyTest, ReadsTok512) {
  absl::StatusOr<Vocabulary> vocab = ReadVocabulary(kTokenizerPath, 512);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ(vocab->max_token_length, 7u);
  ASSERT_EQ(vocab->pieces.size(), 512u);
  ASSERT_EQ(vocab->scores.size(), 512u);
  EXPECT_EQ(vocab->pieces[0], "<unk>");
  EXPECT_EQ(vocab->pieces[1], "\n<s>\n");
  EXPECT_EQ(vocab->pieces[2], "\n</s>\n");
  EXPECT_EQ(vocab->pieces[300], " ha");
  EXPECT_EQ(vocab->scores[300], -41.0f);
  // Asking for fewer tokens than the file holds leaves bytes over.
  EXPECT_TRUE(IsInvalidModelFile(ReadVocabulary(kTokenizerPath, 511).status(),
                                 "bytes follow the last of the 511 tokens"));
  EXPECT_TRUE(IsInvalidModelFile(ReadVocabulary(kTokenizerPath, 513).status(),
                                 "truncated: token 512 of 513"));
}

TEST(Llama2cTokenTest, PiecesBecomeSentencePieceText) {
  EXPECT_EQ(GgufTokenText("\n<s>\n"), "<s>");
  EXPECT_EQ(GgufTokenText("\n</s>\n"), "</s>");
  EXPECT_EQ(GgufTokenText(" the"), "\u2581the");
  EXPECT_EQ(GgufTokenText("a b "), "a\u2581b\u2581");
  EXPECT_EQ(GgufTokenText("<0x0A>"), "<0x0A>");
  EXPECT_EQ(GgufTokenText("<s>"), "<s>");
}

TEST(Llama2cTokenTest, TokenTypes) {
  EXPECT_EQ(GgufTokenType(0, "<unk>"), 2);
  EXPECT_EQ(GgufTokenType(1, "<s>"), 3);
  EXPECT_EQ(GgufTokenType(2, "</s>"), 3);
  EXPECT_EQ(GgufTokenType(3, "<0x00>"), 6);
  EXPECT_EQ(GgufTokenType(258, "<0xFF>"), 6);
  EXPECT_EQ(GgufTokenType(300, "<0xZZ>"), 1);
  EXPECT_EQ(GgufTokenType(301, "<0x0A"), 1);
  EXPECT_EQ(GgufTokenType(259, "\u2581t"), 1);
}

class Llama2cMalformedTest : public ::testing::Test {
 protected:
  // Writes `bytes` as a checkpoint and converts it with the real tokenizer.
  absl::Status Convert(const std::string& bytes) {
    WriteBytes(checkpoint_.path(), bytes);
    return ConvertToGguf(checkpoint_.path(), kTokenizerPath, out_.path());
  }
  std::string WithHeaderField(int field, int32_t value) {
    std::string bytes = bin_;
    std::memcpy(bytes.data() + 4 * field, &value, 4);
    return bytes;
  }

  const std::string bin_ = ReadBytes(kCheckpointPath);
  const ScratchFile checkpoint_{"checkpoint.bin"};
  const ScratchFile out_{"out.gguf"};
};

TEST_F(Llama2cMalformedTest, Truncated) {
  EXPECT_TRUE(IsInvalidModelFile(Convert(""), "truncated: the 7-field header"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(bin_.substr(0, 20)), "truncated: the 7-field header"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(bin_.substr(0, 28)),
                                 "the header describes 1056512 bytes of fp32 weights but 0 bytes"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(bin_.substr(0, bin_.size() - 4)),
                                 "but 1056508 bytes follow it"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(bin_ + "xxxx"), "but 1056516 bytes follow it"));
}

TEST_F(Llama2cMalformedTest, BadHeader) {
  EXPECT_TRUE(IsInvalidModelFile(Convert(WithHeaderField(3, 0)),
                                 "every size other than vocab_size must be positive"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(WithHeaderField(0, -64)),
                                 "every size other than vocab_size must be positive"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(WithHeaderField(5, 0)), "vocab_size must be nonzero"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(WithHeaderField(3, 7)),
                                 "dim is not a multiple of n_heads"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(WithHeaderField(4, 3)),
                                 "n_heads is not a multiple of n_kv_heads"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(WithHeaderField(3, 64)), "the head size"));
  // Sizes whose weights could never fit in memory, let alone this file.
  EXPECT_TRUE(IsInvalidModelFile(Convert(WithHeaderField(0, 1 << 30)), "but 1056512 bytes"));
  EXPECT_TRUE(IsInvalidModelFile(Convert(WithHeaderField(1, 2147483647)), "but 1056512 bytes"));
}

TEST_F(Llama2cMalformedTest, MissingFiles) {
  const absl::Status checkpoint =
      ConvertToGguf(ScratchPath("absent.bin"), kTokenizerPath, out_.path());
  EXPECT_EQ(checkpoint.code(), absl::StatusCode::kNotFound) << checkpoint;
  EXPECT_EQ(ErrorReasonOf(checkpoint), "MODEL_FILE_NOT_FOUND");
  const absl::Status tokenizer =
      ConvertToGguf(kCheckpointPath, ScratchPath("absent_tok.bin"), out_.path());
  EXPECT_EQ(tokenizer.code(), absl::StatusCode::kNotFound) << tokenizer;
}

TEST_F(Llama2cMalformedTest, BadTokenizer) {
  const std::string tok = ReadBytes(kTokenizerPath);
  const ScratchFile scratch("tok.bin");
  const std::string& tokenizer_path = scratch.path();
  WriteBytes(tokenizer_path, tok.substr(0, tok.size() - 1));
  EXPECT_TRUE(IsInvalidModelFile(ReadVocabulary(tokenizer_path, 512).status(),
                                 "truncated: token 511 of 512"));
  // The first token's length field (after max_token_length and its score) made negative.
  std::string negative = tok;
  const int32_t minus_one = -1;
  std::memcpy(negative.data() + 8, &minus_one, 4);
  WriteBytes(tokenizer_path, negative);
  EXPECT_TRUE(IsInvalidModelFile(ReadVocabulary(tokenizer_path, 512).status(),
                                 "token 0 of 512 has length -1"));
}

TEST_F(Llama2cMalformedTest, UnsharedClassifierIsWrittenAsOutput) {
  // The same model with a negative vocab_size and its own classifier appended: the embedding
  // doubled, so it differs from token_embd.
  const std::vector<float> embedding(
      reinterpret_cast<const float*>(bin_.data() + 28),
      reinterpret_cast<const float*>(bin_.data() + 28) + 512 * 64);
  std::vector<float> classifier(embedding);
  for (float& x : classifier) x *= 2;
  std::string bytes = WithHeaderField(5, -512);
  bytes.append(reinterpret_cast<const char*>(classifier.data()), classifier.size() * 4);
  WriteBytes(checkpoint_.path(), bytes);
  ASSERT_TRUE(ConvertToGguf(checkpoint_.path(), kTokenizerPath, out_.path()).ok());
  const std::unique_ptr<GgufFile> file = OpenGguf(out_.path());
  ASSERT_NE(file, nullptr);
  const gguf::TensorInfo* output = file->FindTensor("output.weight");
  const gguf::TensorInfo* embd = file->FindTensor("token_embd.weight");
  ASSERT_NE(output, nullptr);
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(output->dims, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(std::memcmp(output->data, classifier.data(), classifier.size() * 4), 0);
  EXPECT_EQ(std::memcmp(embd->data, embedding.data(), embedding.size() * 4), 0);
}

}  // namespace
}  // namespace tessera::llama2c
