// Tokenizer::EncodeWithSpecialTokens: special tokens written in text become those tokens.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/format/gguf.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "core/tokenizer/hf_tokenizer_to_gguf.h"
#include "core/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

// Byte tokens 0..255 (the id of an ASCII character is its code), then special tokens.
constexpr int32_t kStart = 256;       // control "<|a|>"
constexpr int32_t kStartB = 257;      // user-defined "<|a|>b", which starts like kStart
constexpr int32_t kPad = 258;         // unused "<pad>": never special
constexpr int32_t kStartAgain = 259;  // control "<|a|>" again: the first id wins
constexpr int32_t kLeft = 260;        // control "<l>", which takes the whitespace before it
constexpr int32_t kRight = 261;       // control "<r>", which takes the whitespace after it

std::unique_ptr<Tokenizer> SmallTokenizer() {
  BpeVocabulary vocabulary;
  for (int byte = 0; byte < 256; ++byte) {
    vocabulary.tokens.emplace_back(ByteLevelCharacter(static_cast<uint8_t>(byte)));
    vocabulary.types.push_back(TokenType::kNormal);
  }
  vocabulary.tokens.insert(vocabulary.tokens.end(),
                           {"<|a|>", "<|a|>b", "<pad>", "<|a|>", "<l>", "<r>"});
  vocabulary.types.insert(vocabulary.types.end(),
                          {TokenType::kControl, TokenType::kUserDefined, TokenType::kUnused,
                           TokenType::kControl, TokenType::kControl, TokenType::kControl});
  vocabulary.special_token_strips.resize(vocabulary.tokens.size());
  vocabulary.special_token_strips[kLeft].left = true;
  vocabulary.special_token_strips[kRight].right = true;
  auto tokenizer = BpeTokenizer::Create(std::move(vocabulary));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

TEST(SpecialTokensTest, SplitsTextOnSpecialTokens) {
  auto tokenizer = SmallTokenizer();
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("x<|a|>y"), ElementsAre('x', kStart, 'y'));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<|a|><|a|>"), ElementsAre(kStart, kStart));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<|a|>"), ElementsAre(kStart));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens(""), IsEmpty());
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<|a"), ElementsAre('<', '|', 'a'));
}

TEST(SpecialTokensTest, TheLongestTokenWins) {
  auto tokenizer = SmallTokenizer();
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<|a|>b"), ElementsAre(kStartB));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<|a|>c"), ElementsAre(kStart, 'c'));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<<|a|>bb"), ElementsAre('<', kStartB, 'b'));
}

TEST(SpecialTokensTest, OnlyControlAndUserDefinedTokensAreSpecial) {
  auto tokenizer = SmallTokenizer();
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<pad>"), ElementsAre('<', 'p', 'a', 'd', '>'));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<|a|>"), Not(Contains(kStartAgain)));
}

// As Hugging Face's added tokens with lstrip and rstrip: the whitespace goes with the token.
TEST(SpecialTokensTest, StripsTakeTheWhitespaceBesideTheToken) {
  auto tokenizer = SmallTokenizer();
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("x \t\n<l> y"),
              ElementsAre('x', kLeft, ' ', 'y'));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("x <r> \r\n y"),
              ElementsAre('x', ' ', kRight, 'y'));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("  <l>"), ElementsAre(kLeft));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<r>  "), ElementsAre(kRight));
  // Tokens without a strip keep the whitespace.
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens(" <|a|> "), ElementsAre(' ', kStart, ' '));
}

TEST(SpecialTokensTest, StripsTakeUnicodeWhitespace) {
  auto tokenizer = SmallTokenizer();
  // U+3000 IDEOGRAPHIC SPACE, U+00A0 NO-BREAK SPACE and U+2028 LINE SEPARATOR are White_Space.
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<r>\u3000\u00A0\u2028y"),
              ElementsAre(kRight, 'y'));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("x\u3000<l>"), ElementsAre('x', kLeft));
  // U+200B ZERO WIDTH SPACE (E2 80 8B) is not, nor is an ill-formed byte.
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<r>\u200By"),
              ElementsAre(kRight, 0xE2, 0x80, 0x8B, 'y'));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("\xA0<l>"), ElementsAre(0xA0, kLeft));
}

// Whitespace one token took is not there for the next to take again.
TEST(SpecialTokensTest, AStripStopsAtTheTokenBefore) {
  auto tokenizer = SmallTokenizer();
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<r>  <l>"), ElementsAre(kRight, kLeft));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<|a|> <l>"), ElementsAre(kStart, kLeft));
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<l> <r> <l>"),
              ElementsAre(kLeft, ' ', kRight, kLeft));
}

TEST(SpecialTokensTest, PlainEncodeIgnoresSpecialTokens) {
  auto tokenizer = SmallTokenizer();
  EXPECT_THAT(tokenizer->Encode("<|a|>"), ElementsAre('<', '|', 'a', '|', '>'));
}

// llama.cpp's Phi-3 vocabulary (tests/data): <|user|> 32010, <|end|> 32007 and <s> 1 are
// control tokens, </s> 2 is user-defined.
TEST(SpecialTokensTest, SentencePieceTokenizerFromGguf) {
  auto file =
      gguf::GgufFile::Open(std::string(TESSERA_TEST_DATA_DIR) + "/tokenizer/ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(file.ok()) << file.status();
  auto tokenizer = TokenizerFromGguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::vector<int32_t> hi = (*tokenizer)->Encode("Hi");
  std::vector<int32_t> expected = {32010};
  expected.insert(expected.end(), hi.begin(), hi.end());
  expected.insert(expected.end(), {32007, 1, 2});
  EXPECT_EQ((*tokenizer)->EncodeWithSpecialTokens("<|user|>Hi<|end|><s></s>"), expected);
  EXPECT_THAT((*tokenizer)->Encode("<|user|>"), Not(Contains(32010)));
}

// llama.cpp's Phi-3 file is named "Phi3", so llama.cpp's rule gives its chat tokens the rstrip
// of Phi-3's tokenizer.json. The ids are the Hugging Face tokenizer's
// (tokenizer-hard-cases.Phi3.out): 7251 "▁hi", 1678 "▁▁▁".
TEST(SpecialTokensTest, LlamaCppsPhi3GgufStripsAfterChatTokens) {
  auto file =
      gguf::GgufFile::Open(std::string(TESSERA_TEST_DATA_DIR) + "/tokenizer/ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(file.ok()) << file.status();
  auto tokenizer = TokenizerFromGguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("<|user|>\nhi<|end|>\n"),
              ElementsAre(32010, 7251, 32007));
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("  <|end|>  "), ElementsAre(1678, 32007));
}

std::string SharedPath(const std::string& relative) {
  return std::string(TESSERA_SHARED_TESTDATA_DIR) + "/" + relative;
}

// Ids from the files' added_tokens lists; "Hello" is 9906 in Llama 3's model.vocab.
TEST(SpecialTokensTest, Llama3ChatTokens) {
  const std::string path = SharedPath("hf/llama3/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "the shared test data is absent: " << path;
  auto tokenizer = TokenizerFromHfJson(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("<|begin_of_text|>Hello<|eot_id|>"),
              ElementsAre(128000, 9906, 128009));
  EXPECT_THAT((*tokenizer)->Encode("<|begin_of_text|>Hello"), Not(Contains(128000)));

  // The GGUF converted from it keeps the token types, so the same tokens are special.
  const std::string gguf_path = testing::ScratchPath("llama3.gguf");
  ASSERT_TRUE(ConvertHfTokenizerToGguf(path, gguf_path).ok());
  auto file = gguf::GgufFile::Open(gguf_path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto from_gguf = TokenizerFromGguf(**file);
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.status();
  EXPECT_THAT((*from_gguf)->EncodeWithSpecialTokens("<|begin_of_text|>Hello<|eot_id|>"),
              ElementsAre(128000, 9906, 128009));
}

TEST(SpecialTokensTest, QwenChatTokens) {
  const std::string path = SharedPath("hf/qwen3/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "the shared test data is absent: " << path;
  auto tokenizer = TokenizerFromHfJson(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::vector<int32_t> user = (*tokenizer)->Encode("user\nHi");
  std::vector<int32_t> expected = {151644};  // <|im_start|>
  expected.insert(expected.end(), user.begin(), user.end());
  expected.push_back(151645);  // <|im_end|>
  EXPECT_EQ((*tokenizer)->EncodeWithSpecialTokens("<|im_start|>user\nHi<|im_end|>"), expected);
  EXPECT_THAT((*tokenizer)->Encode("<|im_start|>user"), Not(Contains(151644)));
  // <think> (151667) is added but not special: user-defined tokens are recognised too.
  EXPECT_THAT((*tokenizer)->EncodeWithSpecialTokens("<think>"), ElementsAre(151667));
}

}  // namespace
}  // namespace tessera
