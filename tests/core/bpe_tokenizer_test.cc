#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/format/gguf.h"
#include "core/format/gguf_writer.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/gguf_test_util.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A hand-written vocabulary: ids 0..255 are the byte-level characters of bytes 0..255 (so the
// id of an ASCII character is its code), then `extra` tokens from id 256.
struct ExtraToken {
  std::string text;
  TokenType type = TokenType::kNormal;
};
constexpr int32_t kFirstExtra = 256;
constexpr int32_t kSpace = ' ';

BpeVocabulary MakeVocabulary(const std::vector<ExtraToken>& extra,
                             std::vector<std::pair<std::string, std::string>> merges) {
  BpeVocabulary vocabulary;
  for (int byte = 0; byte < 256; ++byte) {
    vocabulary.tokens.emplace_back(ByteLevelCharacter(static_cast<uint8_t>(byte)));
    vocabulary.types.push_back(TokenType::kNormal);
  }
  for (const ExtraToken& token : extra) {
    vocabulary.tokens.push_back(token.text);
    vocabulary.types.push_back(token.type);
  }
  vocabulary.merges = std::move(merges);
  vocabulary.split_regexes = {std::string(kGpt2SplitRegex)};
  return vocabulary;
}

std::unique_ptr<BpeTokenizer> MakeTokenizer(BpeVocabulary vocabulary) {
  auto tokenizer = BpeTokenizer::Create(std::move(vocabulary));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

// "Ġ" is the byte-level space.
BpeVocabulary HelloVocabulary(std::vector<std::pair<std::string, std::string>> merges) {
  return MakeVocabulary({{"he"}, {"ll"}, {"hell"}, {"hello"}, {"Ġh"}}, std::move(merges));
}
constexpr int32_t kHe = kFirstExtra, kLl = kFirstExtra + 1, kHell = kFirstExtra + 2,
                  kHello = kFirstExtra + 3, kSpaceH = kFirstExtra + 4;

TEST(BpeTokenizerTest, AppliesTheEarliestMergeRuleFirst) {
  auto tokenizer = MakeTokenizer(
      HelloVocabulary({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "h"}}));
  EXPECT_THAT(tokenizer->Encode("hello"), ElementsAre(kHello));
  // "h e" comes before "Ġ h", so "Ġh" never forms.
  EXPECT_THAT(tokenizer->Encode(" hello"), ElementsAre(kSpace, kHello));
  EXPECT_THAT(tokenizer->Encode(" hell"), ElementsAre(kSpace, kHell));

  auto space_first = MakeTokenizer(
      HelloVocabulary({{"Ġ", "h"}, {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}}));
  EXPECT_THAT(space_first->Encode(" hello"), ElementsAre(kSpaceH, 'e', kLl, 'o'));
  EXPECT_THAT(space_first->Encode("hello"), ElementsAre(kHello));
  EXPECT_THAT(space_first->Encode("he"), ElementsAre(kHe));
}

TEST(BpeTokenizerTest, MergesTheLeftmostPairOnTies) {
  auto tokenizer = MakeTokenizer(MakeVocabulary({{"aa"}}, {{"a", "a"}}));
  const int32_t aa = kFirstExtra;
  EXPECT_THAT(tokenizer->Encode("aaa"), ElementsAre(aa, 'a'));
  EXPECT_THAT(tokenizer->Encode("aaaa"), ElementsAre(aa, aa));
  EXPECT_THAT(tokenizer->Encode("aaaaa"), ElementsAre(aa, aa, 'a'));
}

TEST(BpeTokenizerTest, NeverMergesAcrossPieces) {
  BpeVocabulary vocabulary = MakeVocabulary({{"bĠ"}}, {{"b", "Ġ"}});
  auto split = MakeTokenizer(vocabulary);
  // GPT-2's regex splits "b a" into "b" and " a".
  EXPECT_THAT(split->Encode("b a"), ElementsAre('b', kSpace, 'a'));
  vocabulary.split_regexes.clear();
  auto whole = MakeTokenizer(std::move(vocabulary));
  EXPECT_THAT(whole->Encode("b a"), ElementsAre(kFirstExtra, 'a'));
}

TEST(BpeTokenizerTest, IgnoreMergesTakesAWholePieceThatIsAToken) {
  // No rule forms "abc".
  BpeVocabulary vocabulary = MakeVocabulary({{"abc"}, {"ab"}}, {{"a", "b"}});
  auto merging = MakeTokenizer(vocabulary);
  EXPECT_THAT(merging->Encode("abc"), ElementsAre(kFirstExtra + 1, 'c'));
  vocabulary.ignore_merges = true;
  auto ignoring = MakeTokenizer(std::move(vocabulary));
  EXPECT_THAT(ignoring->Encode("abc"), ElementsAre(kFirstExtra));
  EXPECT_THAT(ignoring->Encode("abcabc"), ElementsAre(kFirstExtra + 1, 'c', kFirstExtra + 1, 'c'))
      << "pieces that are not tokens merge as usual";
}

TEST(BpeTokenizerTest, EncodesEveryByteOfAnyText) {
  auto tokenizer = MakeTokenizer(MakeVocabulary({}, {}));
  // é is C3 A9; an invalid byte and a lone lead byte are tokens of their own.
  EXPECT_THAT(tokenizer->Encode("\xC3\xA9"), ElementsAre(0xC3, 0xA9));
  EXPECT_THAT(tokenizer->Encode("a\xFF\xE4"), ElementsAre('a', 0xFF, 0xE4));
  EXPECT_THAT(tokenizer->Encode(std::string("\0\n", 2)), ElementsAre(0, '\n'));
  EXPECT_THAT(tokenizer->Encode(""), IsEmpty());
}

TEST(BpeTokenizerTest, SkipsMergeRulesThatCanNeverApply) {
  // "xy" is not a token, "zz" neither, and "q" is a control token.
  auto tokenizer = MakeTokenizer(
      MakeVocabulary({{"xq"}, {"q", TokenType::kControl}}, {{"x", "y"}, {"z", "zz"}, {"x", "q"}}));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("xyzzz"), ElementsAre('x', 'y', 'z', 'z', 'z'));
}

TEST(BpeTokenizerTest, TokenBytesFollowTheTokenType) {
  auto tokenizer = MakeTokenizer(MakeVocabulary({{"ĠhiĊ"},
                                                 {"<|end|>", TokenType::kControl},
                                                 {"<tool>", TokenType::kUserDefined},
                                                 {"[PAD9]", TokenType::kUnused}},
                                                {}));
  EXPECT_EQ(tokenizer->TokenBytes(kFirstExtra), " hi\n");
  EXPECT_EQ(tokenizer->TokenBytes(kFirstExtra + 1), "");
  EXPECT_EQ(tokenizer->TokenBytes(kFirstExtra + 2), "<tool>");
  EXPECT_EQ(tokenizer->TokenBytes(kFirstExtra + 3), "");
  EXPECT_EQ(tokenizer->TokenBytes(0xC3), "\xC3");
  EXPECT_EQ(tokenizer->TokenBytes(-1), "");
  EXPECT_EQ(tokenizer->TokenBytes(kFirstExtra + 4), "");
  EXPECT_EQ(tokenizer->TokenText(kFirstExtra), "ĠhiĊ");
  EXPECT_EQ(tokenizer->TokenText(kFirstExtra + 1), "<|end|>");
  EXPECT_EQ(tokenizer->vocab_size(), kFirstExtra + 4);
  EXPECT_FALSE(tokenizer->strips_leading_space());
}

TEST(BpeTokenizerTest, DecodeOfEncodeGivesAnyBytesBack) {
  auto tokenizer = MakeTokenizer(
      HelloVocabulary({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "h"}}));
  for (const std::string& text :
       {std::string("  hello\r\n\thello "), std::string("\xFF\xC3 caf\xC3\xA9 \xF0\x9F\xA6\x99"),
        std::string(" "), std::string("\0x", 2)}) {
    EXPECT_EQ(tokenizer->Decode(tokenizer->Encode(text), /*at_text_start=*/true), text);
  }
}

void ExpectInvalid(BpeVocabulary vocabulary, const std::string& message_part) {
  auto tokenizer = BpeTokenizer::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_TRUE(testing::IsInvalidModelFile(tokenizer.status(), message_part));
}

TEST(BpeTokenizerTest, RejectsInconsistentVocabularies) {
  BpeVocabulary mismatched = MakeVocabulary({}, {});
  mismatched.types.pop_back();
  ExpectInvalid(mismatched, "256 tokens but 255 types");

  BpeVocabulary missing_byte = MakeVocabulary({}, {});
  missing_byte.types['\n'] = TokenType::kControl;
  ExpectInvalid(missing_byte, "byte 10");

  BpeVocabulary unknown_type = MakeVocabulary({}, {});
  unknown_type.types[5] = static_cast<TokenType>(7);
  ExpectInvalid(unknown_type, "unknown type 7");

  BpeVocabulary bos_out_of_range = MakeVocabulary({}, {});
  bos_out_of_range.bos_id = 256;
  ExpectInvalid(bos_out_of_range, "bos_token_id 256");

  BpeVocabulary add_bos_without_bos = MakeVocabulary({}, {});
  add_bos_without_bos.add_bos = true;
  ExpectInvalid(add_bos_without_bos, "add_bos_token");

  BpeVocabulary bad_regex = MakeVocabulary({}, {});
  bad_regex.split_regexes = {"[unclosed"};
  ExpectInvalid(bad_regex, "[unclosed");

  ExpectInvalid(BpeVocabulary{}, "no tokens");
}

// The tokenizer.ggml.* entries of a byte-level vocabulary: the 256 byte tokens, then `extra`;
// tests change one entry.
struct GgufVocabulary {
  std::optional<std::string> pre = "qwen2";
  std::vector<ExtraToken> extra = {{"he"}, {"ll"}, {"hell"}, {"hello"}, {"Ġh"}};
  std::vector<std::string> merges = {"h e", "l l", "he ll", "hell o"};
  std::optional<uint32_t> bos_id = std::nullopt;
  std::optional<uint32_t> eos_id = 257;
  std::optional<bool> add_bos = std::nullopt;
  std::optional<std::string> normalizer = std::nullopt;  // tokenizer.ggml.normalizer
  std::optional<std::string> name = std::nullopt;        // general.name
};

absl::StatusOr<std::unique_ptr<Tokenizer>> FromGguf(const GgufVocabulary& metadata) {
  const BpeVocabulary vocabulary = MakeVocabulary(metadata.extra, {});
  std::vector<int32_t> types;
  for (TokenType type : vocabulary.types) types.push_back(static_cast<int32_t>(type));
  gguf::GgufWriter writer;
  writer.AddString("tokenizer.ggml.model", "gpt2");
  if (metadata.pre) writer.AddString("tokenizer.ggml.pre", *metadata.pre);
  writer.AddArray<std::string>("tokenizer.ggml.tokens", vocabulary.tokens);
  writer.AddArray<int32_t>("tokenizer.ggml.token_type", types);
  writer.AddArray<std::string>("tokenizer.ggml.merges", metadata.merges);
  if (metadata.bos_id) writer.AddUint32("tokenizer.ggml.bos_token_id", *metadata.bos_id);
  if (metadata.eos_id) writer.AddUint32("tokenizer.ggml.eos_token_id", *metadata.eos_id);
  if (metadata.add_bos) writer.AddBool("tokenizer.ggml.add_bos_token", *metadata.add_bos);
  if (metadata.normalizer) writer.AddString("tokenizer.ggml.normalizer", *metadata.normalizer);
  if (metadata.name) writer.AddString("general.name", *metadata.name);
  const std::string path = testing::ScratchPath("vocab.gguf");
  if (absl::Status status = writer.WriteFile(path); !status.ok()) return status;
  auto file = gguf::GgufFile::Open(path);
  if (!file.ok()) return file.status();
  return TokenizerFromGguf(**file);
}

TEST(BpeTokenizerFromGgufTest, BuildsAByteLevelTokenizerForModelGpt2) {
  auto tokenizer = FromGguf(GgufVocabulary{});
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->Encode("hello hell"), ElementsAre(kHello, kSpace, kHell));
  EXPECT_EQ((*tokenizer)->vocab_size(), kFirstExtra + 5);
  EXPECT_EQ((*tokenizer)->bos_id(), std::nullopt);
  EXPECT_EQ((*tokenizer)->eos_id(), 257);
  EXPECT_FALSE((*tokenizer)->add_bos()) << "llama.cpp's default for qwen2";
  EXPECT_EQ((*tokenizer)->Decode((*tokenizer)->Encode(" hello\n"), true), " hello\n");
}

TEST(BpeTokenizerFromGgufTest, ThePreNameChoosesTheSplitRegexes) {
  // Rules merge "1234" completely, but only within one piece.
  GgufVocabulary digits{.extra = {{"12"}, {"123"}, {"1234"}}, .merges = {"1 2", "12 3", "123 4"}};
  const int32_t d123 = kFirstExtra + 1, d1234 = kFirstExtra + 2;
  auto qwen2 = FromGguf(digits);
  ASSERT_TRUE(qwen2.ok()) << qwen2.status();
  EXPECT_THAT((*qwen2)->Encode("1234"), ElementsAre('1', '2', '3', '4'));
  digits.pre = "llama-bpe";
  auto llama3 = FromGguf(digits);
  ASSERT_TRUE(llama3.ok()) << llama3.status();
  EXPECT_THAT((*llama3)->Encode("1234"), ElementsAre(d123, '4'));
  digits.pre = "gpt2";
  auto gpt2 = FromGguf(digits);
  ASSERT_TRUE(gpt2.ok()) << gpt2.status();
  EXPECT_THAT((*gpt2)->Encode("1234"), ElementsAre(d1234));
  // llama.cpp reads a missing name as "default", GPT-2's regex.
  digits.pre = std::nullopt;
  auto fallback = FromGguf(digits);
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_THAT((*fallback)->Encode("1234"), ElementsAre(d1234));
}

TEST(BpeTokenizerFromGgufTest, Llama3IgnoresMergesAndAddsBosByDefault) {
  // No rules at all: only ignore_merges can produce "hello".
  auto llama3 = FromGguf(GgufVocabulary{.pre = "llama-bpe", .merges = {}, .bos_id = 256});
  ASSERT_TRUE(llama3.ok()) << llama3.status();
  EXPECT_THAT((*llama3)->Encode("hello hell"), ElementsAre(kHello, kSpace, 'h', 'e', 'l', 'l'));
  EXPECT_TRUE((*llama3)->add_bos());
  auto without_bos =
      FromGguf(GgufVocabulary{.pre = "llama3", .merges = {}, .bos_id = 256, .add_bos = false});
  ASSERT_TRUE(without_bos.ok()) << without_bos.status();
  EXPECT_FALSE((*without_bos)->add_bos());
}

// Qwen's tokenizers normalize to NFC, but llama.cpp's converter does not say so in the file.
TEST(BpeTokenizerFromGgufTest, Qwen2ImpliesNfcUnlessTheFileSaysOtherwise) {
  // "é" is C3 A9, which the byte-level alphabet spells "Ã©".
  GgufVocabulary accented{.extra = {{"Ã©"}}, .merges = {"Ã ©"}, .eos_id = std::nullopt};
  const int32_t e_acute = kFirstExtra;
  auto implied = FromGguf(accented);
  ASSERT_TRUE(implied.ok()) << implied.status();
  EXPECT_THAT((*implied)->Encode("e\u0301"), ElementsAre(e_acute));
  accented.normalizer = "none";
  auto none = FromGguf(accented);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT((*none)->Encode("e\u0301"), ElementsAre('e', 0xCC, 0x81));

  accented.pre = "llama-bpe";
  accented.normalizer = std::nullopt;
  auto llama3 = FromGguf(accented);
  ASSERT_TRUE(llama3.ok()) << llama3.status();
  EXPECT_THAT((*llama3)->Encode("e\u0301"), ElementsAre('e', 0xCC, 0x81));
  accented.normalizer = "nfc";
  auto nfc = FromGguf(accented);
  ASSERT_TRUE(nfc.ok()) << nfc.status();
  EXPECT_THAT((*nfc)->Encode("e\u0301"), ElementsAre(e_acute));

  accented.normalizer = "nfkc";
  auto nfkc = FromGguf(accented);
  ASSERT_FALSE(nfkc.ok());
  EXPECT_EQ(nfkc.status().code(), absl::StatusCode::kUnimplemented) << nfkc.status();
  EXPECT_THAT(std::string(nfkc.status().message()), HasSubstr("\"nfkc\""));
}

// llama.cpp's rule: a model named Phi-3 gives its special tokens, except <unk>, <s> and
// <|endoftext|>, the whitespace after them; GGUF itself has no place for that.
TEST(BpeTokenizerFromGgufTest, APhi3NameGivesSpecialTokensRstrip) {
  GgufVocabulary chat{.extra = {{"<|end|>", TokenType::kControl},
                                {"<|endoftext|>", TokenType::kControl},
                                {"</s>", TokenType::kUserDefined}},
                      .merges = {}};
  const int32_t end = kFirstExtra, end_of_text = kFirstExtra + 1, end_of_sequence = kFirstExtra + 2;
  for (const char* name : {"Phi3", "Phi-3 Mini 4k Instruct", "microsoft_PHI3"}) {
    chat.name = name;
    auto phi3 = FromGguf(chat);
    ASSERT_TRUE(phi3.ok()) << phi3.status();
    EXPECT_THAT((*phi3)->EncodeWithSpecialTokens("a<|end|> \n b"), ElementsAre('a', end, 'b'));
    EXPECT_THAT((*phi3)->EncodeWithSpecialTokens("</s> b"), ElementsAre(end_of_sequence, 'b'));
    EXPECT_THAT((*phi3)->EncodeWithSpecialTokens("<|endoftext|> b"),
                ElementsAre(end_of_text, ' ', 'b'));
  }
  using Name = std::optional<std::string>;
  for (const Name& name : {Name("Phi 3"), Name()}) {
    chat.name = name;
    auto other = FromGguf(chat);
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_THAT((*other)->EncodeWithSpecialTokens("a<|end|> \n b"),
                ElementsAre('a', end, ' ', '\n', ' ', 'b'));
  }
}

TEST(BpeTokenizerFromGgufTest, RejectsAnUnknownPreTokenizer) {
  auto tokenizer = FromGguf(GgufVocabulary{.pre = "falcon"});
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrorReasonOf(tokenizer.status()), std::string(reason::kUnsupportedArchitecture));
  EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr("\"falcon\""));
}

TEST(BpeTokenizerFromGgufTest, RejectsAMergeRuleWithoutASpace) {
  auto tokenizer = FromGguf(GgufVocabulary{.merges = {"h e", "ll"}});
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_TRUE(testing::IsInvalidModelFile(tokenizer.status(), "tokenizer.ggml.merges[1]"));
}

}  // namespace
}  // namespace tessera
