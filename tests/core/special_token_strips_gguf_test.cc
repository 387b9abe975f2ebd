// Tessera's GGUF keys for special tokens' lstrip and rstrip (special_token_strip_keys.h):
// AddVocabularyToGguf writes them, and TokenizerFromGguf prefers them to llama.cpp's rule keyed
// on general.name.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/format/gguf.h"
#include "core/format/gguf_writer.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/hf_tokenizer_to_gguf.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/special_token_strip_keys.h"
#include "core/tokenizer/spm.h"
#include "core/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A SentencePiece-style vocabulary with chat tokens. "hi" encodes as "▁hi" (the space prefix);
// " hi" as "▁▁hi", which merges to "▁" "▁hi".
constexpr int32_t kEos = 2;      // control "</s>"
constexpr int32_t kSpace = 3;    // "▁"
constexpr int32_t kSpaceHi = 7;  // "▁hi"
constexpr int32_t kUser = 8;     // control "<|user|>"
constexpr int32_t kEnd = 9;      // control "<|end|>"
constexpr int32_t kChatVocabularySize = 10;

SpmVocabulary ChatVocabulary() {
  SpmVocabulary vocabulary;
  vocabulary.tokens = {"<unk>", "<s>", "</s>", "▁", "h", "i", "▁h", "▁hi",
                       "<|user|>", "<|end|>"};
  vocabulary.scores = {0, 0, 0, -3, -3, -3, -1, -2, 0, 0};
  vocabulary.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl,
                      TokenType::kNormal,  TokenType::kNormal,  TokenType::kNormal,
                      TokenType::kNormal,  TokenType::kNormal,  TokenType::kControl,
                      TokenType::kControl};
  vocabulary.bos_id = 1;
  vocabulary.eos_id = kEos;
  vocabulary.unknown_id = 0;
  return vocabulary;
}

// The chat vocabulary as llama.cpp writes it: no strip keys.
gguf::GgufWriter LlamaCppChatVocabulary(std::string_view general_name) {
  const SpmVocabulary vocabulary = ChatVocabulary();
  gguf::GgufWriter writer;
  writer.AddString("general.name", general_name);
  writer.AddString("tokenizer.ggml.model", "llama");
  writer.AddArray<std::string>("tokenizer.ggml.tokens", vocabulary.tokens);
  writer.AddArray<float>("tokenizer.ggml.scores", vocabulary.scores);
  std::vector<int32_t> types;
  for (TokenType type : vocabulary.types) types.push_back(static_cast<int32_t>(type));
  writer.AddArray<int32_t>("tokenizer.ggml.token_type", types);
  writer.AddUint32("tokenizer.ggml.bos_token_id", 1);
  writer.AddUint32("tokenizer.ggml.eos_token_id", kEos);
  writer.AddUint32("tokenizer.ggml.unknown_token_id", 0);
  return writer;
}

std::unique_ptr<gguf::GgufFile> Parse(const gguf::GgufWriter& writer) {
  auto file = gguf::GgufFile::FromParts("strips.gguf", writer.Serialize(), {}, nullptr);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? std::move(file).value() : nullptr;
}

// The ids strip key `key` lists, an int32 array as documented.
std::vector<int64_t> StripIds(const gguf::GgufFile& file, std::string_view key) {
  const gguf::Value* value = file.Find(key);
  EXPECT_NE(value, nullptr) << key;
  if (value == nullptr) return {};
  EXPECT_EQ(value->type, gguf::ValueType::kArray) << key;
  EXPECT_EQ(value->element_type, gguf::ValueType::kInt32) << key;
  auto ids = file.GetIntArray(key);
  EXPECT_TRUE(ids.ok()) << ids.status();
  return ids.value_or(std::vector<int64_t>());
}

absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerOf(const gguf::GgufWriter& writer) {
  std::unique_ptr<gguf::GgufFile> file = Parse(writer);
  if (file == nullptr) return absl::InternalError("the test's GGUF does not parse");
  return TokenizerFromGguf(*file);
}

// The control for the tests below: without the keys, the name decides.
TEST(SpecialTokensStripKeysTest, WithoutTheKeysLlamaCppsNameRuleApplies) {
  auto phi3 = TokenizerOf(LlamaCppChatVocabulary("Phi3"));
  ASSERT_TRUE(phi3.ok()) << phi3.status();
  EXPECT_THAT((*phi3)->EncodeWithSpecialTokens("<|user|> hi"), ElementsAre(kUser, kSpaceHi));
  EXPECT_THAT((*phi3)->EncodeWithSpecialTokens("</s> hi"), ElementsAre(kEos, kSpaceHi));
  auto other = TokenizerOf(LlamaCppChatVocabulary("tiny"));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_THAT((*other)->EncodeWithSpecialTokens("<|user|> hi"),
              ElementsAre(kUser, kSpace, kSpaceHi));
}

TEST(SpecialTokensStripKeysTest, EmptyKeysTurnTheNameRuleOff) {
  gguf::GgufWriter writer = LlamaCppChatVocabulary("Phi3");
  writer.AddArray<int32_t>(kGgufLstripTokenIdsKey, {});
  writer.AddArray<int32_t>(kGgufRstripTokenIdsKey, {});
  auto tokenizer = TokenizerOf(writer);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("<|user|> hi"),
              ElementsAre(kUser, kSpace, kSpaceHi));
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("</s> hi"),
              ElementsAre(kEos, kSpace, kSpaceHi));
}

TEST(SpecialTokensStripKeysTest, KeysSetTheStripsWhateverTheName) {
  gguf::GgufWriter writer = LlamaCppChatVocabulary("tiny");
  const std::vector<int32_t> lstrip_ids = {kEnd};
  const std::vector<int32_t> rstrip_ids = {kUser};
  writer.AddArray<int32_t>(kGgufLstripTokenIdsKey, lstrip_ids);
  writer.AddArray<int32_t>(kGgufRstripTokenIdsKey, rstrip_ids);
  auto tokenizer = TokenizerOf(writer);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // <|user|> takes the space after it and <|end|> the one before it, leaving "hi".
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("<|user|> hi <|end|>"),
              ElementsAre(kUser, kSpaceHi, kEnd));
  // Neither takes the whitespace on its other side.
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("<|end|> hi"),
              ElementsAre(kEnd, kSpace, kSpaceHi));
}

// One key alone says the strips are known: the other side strips nothing.
TEST(SpecialTokensStripKeysTest, EitherKeyAloneTurnsTheNameRuleOff) {
  gguf::GgufWriter writer = LlamaCppChatVocabulary("Phi3");
  const std::vector<int32_t> rstrip_ids = {kUser};
  writer.AddArray<int32_t>(kGgufRstripTokenIdsKey, rstrip_ids);
  auto tokenizer = TokenizerOf(writer);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("<|user|> hi"), ElementsAre(kUser, kSpaceHi));
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("</s> hi"),
              ElementsAre(kEos, kSpace, kSpaceHi));
}

TEST(SpecialTokensStripKeysTest, RejectsIdsOutsideTheVocabulary) {
  gguf::GgufWriter past_end = LlamaCppChatVocabulary("tiny");
  const std::vector<int32_t> past_end_ids = {kUser, kChatVocabularySize};
  past_end.AddArray<int32_t>(kGgufRstripTokenIdsKey, past_end_ids);
  EXPECT_TRUE(testing::IsInvalidModelFile(TokenizerOf(past_end).status(),
                                          "tokenizer.ggml.rstrip_token_ids[1] = 10"));

  gguf::GgufWriter negative = LlamaCppChatVocabulary("tiny");
  const std::vector<int32_t> negative_ids = {-1};
  negative.AddArray<int32_t>(kGgufLstripTokenIdsKey, negative_ids);
  EXPECT_TRUE(testing::IsInvalidModelFile(TokenizerOf(negative).status(),
                                          "tokenizer.ggml.lstrip_token_ids[0] = -1"));

  gguf::GgufWriter not_ids = LlamaCppChatVocabulary("tiny");
  const std::vector<std::string> texts = {"<|user|>"};
  not_ids.AddArray<std::string>(kGgufLstripTokenIdsKey, texts);
  EXPECT_TRUE(testing::IsInvalidModelFile(TokenizerOf(not_ids).status(),
                                          "tokenizer.ggml.lstrip_token_ids"));
}

// Written for every vocabulary, so that a converted file never falls back on the name rule.
TEST(SpecialTokensStripKeysTest, ConversionWritesBothKeysEvenWithoutStrips) {
  gguf::GgufWriter writer;
  ASSERT_TRUE(AddVocabularyToGguf(ChatVocabulary(), writer).ok());
  std::unique_ptr<gguf::GgufFile> file = Parse(writer);
  ASSERT_NE(file, nullptr);
  EXPECT_THAT(StripIds(*file, kGgufLstripTokenIdsKey), IsEmpty());
  EXPECT_THAT(StripIds(*file, kGgufRstripTokenIdsKey), IsEmpty());
}

TEST(SpecialTokensStripKeysTest, SentencePieceStripsRoundTrip) {
  SpmVocabulary vocabulary = ChatVocabulary();
  vocabulary.special_token_strips.resize(kChatVocabularySize);
  vocabulary.special_token_strips[kUser].right = true;
  vocabulary.special_token_strips[kEnd] = {.left = true, .right = true};
  gguf::GgufWriter writer;
  // Named so that llama.cpp's rule would strip after </s> too, were it applied.
  writer.AddString("general.name", "Phi3");
  ASSERT_TRUE(AddVocabularyToGguf(vocabulary, writer).ok());
  std::unique_ptr<gguf::GgufFile> file = Parse(writer);
  ASSERT_NE(file, nullptr);
  EXPECT_THAT(StripIds(*file, kGgufLstripTokenIdsKey), ElementsAre(kEnd));
  EXPECT_THAT(StripIds(*file, kGgufRstripTokenIdsKey), ElementsAre(kUser, kEnd));

  auto tokenizer = TokenizerFromGguf(*file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("<|user|> hi <|end|> </s> hi"),
              ElementsAre(kUser, kSpaceHi, kEnd, kEos, kSpace, kSpaceHi));
}

TEST(SpecialTokensStripKeysTest, ByteLevelStripsRoundTrip) {
  // Byte tokens 0..255 and no merges, so each byte of plain text is its own token.
  BpeVocabulary vocabulary;
  for (int byte = 0; byte < 256; ++byte) {
    vocabulary.tokens.emplace_back(ByteLevelCharacter(static_cast<uint8_t>(byte)));
    vocabulary.types.push_back(TokenType::kNormal);
  }
  constexpr int32_t kLeft = 256;   // control "<l>", which takes the whitespace before it
  constexpr int32_t kRight = 257;  // control "<r>", which takes the whitespace after it
  vocabulary.tokens.insert(vocabulary.tokens.end(), {"<l>", "<r>"});
  vocabulary.types.insert(vocabulary.types.end(), {TokenType::kControl, TokenType::kControl});
  vocabulary.split_regexes = {std::string(kGpt2SplitRegex)};
  vocabulary.special_token_strips.resize(vocabulary.tokens.size());
  vocabulary.special_token_strips[kLeft].left = true;
  vocabulary.special_token_strips[kRight].right = true;
  gguf::GgufWriter writer;
  ASSERT_TRUE(AddVocabularyToGguf(vocabulary, writer).ok());
  std::unique_ptr<gguf::GgufFile> file = Parse(writer);
  ASSERT_NE(file, nullptr);
  EXPECT_THAT(StripIds(*file, kGgufLstripTokenIdsKey), ElementsAre(kLeft));
  EXPECT_THAT(StripIds(*file, kGgufRstripTokenIdsKey), ElementsAre(kRight));

  auto tokenizer = TokenizerFromGguf(*file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("x <l> <r> y"),
              ElementsAre('x', kLeft, ' ', kRight, 'y'));
}

}  // namespace
}  // namespace tessera
