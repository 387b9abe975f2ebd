// Normalize (NFC through ICU) and the tokenizers that apply it before splitting text. Expected
// texts are worked out from the Unicode Character Database: canonical decompositions, combining
// classes and composition exclusions.
#include "core/tokenizer/normalization.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/tokenizer/bpe.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/spm.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;

std::string Nfc(std::string_view text) { return Normalize(text, Normalization::kNfc); }

TEST(NormalizeTest, ComposesCanonicalSequences) {
  EXPECT_EQ(Nfc("cafe\u0301"), "caf\u00E9");            // e + acute
  EXPECT_EQ(Nfc("\u212B"), "\u00C5");                    // angstrom sign: a singleton
  EXPECT_EQ(Nfc("\u2126"), "\u03A9");                    // ohm sign
  EXPECT_EQ(Nfc("\u1100\u1161\u11A8"), "\uAC01");        // jamo G + A + final G: 0xAC00 + 1
  EXPECT_EQ(Nfc("\u1112\u1161\u11AB"), "\uD55C");        // H + A + final N: 0xAC00 + 18*588 + 4
  EXPECT_EQ(Nfc("Vie\u0302\u0323t"), "Vi\u1EC7t");       // marks reordered, then composed
  EXPECT_EQ(Nfc("a\u0301\u0327"), "\u00E1\u0327");       // cedilla (202) before acute (230)
  EXPECT_EQ(Nfc("q\u0307\u0323"), "q\u0323\u0307");      // reordered; nothing to compose with
  EXPECT_EQ(Nfc("\u0958"), "\u0915\u093C");              // a composition exclusion decomposes
}

TEST(NormalizeTest, KeepsCompatibilityCharacters) {
  for (std::string_view text : {"\uFB01", "\u2460", "x\u00B2", "\uFF28", "\u338F", "\u2122",
                                "\u00C5", "plain ASCII"}) {
    EXPECT_EQ(Nfc(text), text);
  }
}

TEST(NormalizeTest, KeepsIllFormedBytes) {
  EXPECT_EQ(Nfc("\xFF" "e\u0301"), "\xFF\u00E9");
  // Nothing composes across an ill-formed byte.
  EXPECT_EQ(Nfc("e\xFF\u0301"), "e\xFF\u0301");
  EXPECT_EQ(Nfc("\xC3"), "\xC3");
}

TEST(NormalizeTest, NoneKeepsTheText) {
  EXPECT_EQ(Normalize("e\u0301\u212B", Normalization::kNone), "e\u0301\u212B");
}

TEST(NormalizeTest, NamesForGguf) {
  for (Normalization normalization : {Normalization::kNone, Normalization::kNfc}) {
    EXPECT_EQ(NormalizationNamed(NormalizationName(normalization)).value_or(Normalization::kNone),
              normalization);
  }
  EXPECT_EQ(NormalizationName(Normalization::kNfc), "nfc");
  auto nfkc = NormalizationNamed("nfkc");
  ASSERT_FALSE(nfkc.ok());
  EXPECT_EQ(nfkc.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrorReasonOf(nfkc.status()), std::string(reason::kUnsupportedArchitecture));
}

// Byte-level tokens 0..255 (the id of a byte is its value), then "é" (C3 A9, which the byte-level
// alphabet spells "Ã©") and a user-defined token written with a decomposed "Å".
constexpr int32_t kEAcute = 256;
constexpr int32_t kDecomposedRing = 257;

std::unique_ptr<BpeTokenizer> BpeWith(Normalization normalization) {
  BpeVocabulary vocabulary;
  for (int byte = 0; byte < 256; ++byte) {
    vocabulary.tokens.emplace_back(ByteLevelCharacter(static_cast<uint8_t>(byte)));
    vocabulary.types.push_back(TokenType::kNormal);
  }
  vocabulary.tokens.insert(vocabulary.tokens.end(), {"Ã©", "<A\u030A>"});
  vocabulary.types.insert(vocabulary.types.end(), {TokenType::kNormal, TokenType::kUserDefined});
  vocabulary.merges = {{"Ã", "©"}};
  vocabulary.split_regexes = {std::string(kQwen2SplitRegex)};
  vocabulary.normalization = normalization;
  auto tokenizer = BpeTokenizer::Create(std::move(vocabulary));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

TEST(NormalizingTokenizerTest, ByteLevelBpeEncodesTheNormalizedText) {
  auto nfc = BpeWith(Normalization::kNfc);
  EXPECT_THAT(nfc->Encode("e\u0301"), ElementsAre(kEAcute));
  EXPECT_THAT(nfc->Encode("\u00E9"), ElementsAre(kEAcute));
  // Without normalization the combining acute (CC 81) stays apart from the "e".
  auto plain = BpeWith(Normalization::kNone);
  EXPECT_THAT(plain->Encode("e\u0301"), ElementsAre('e', 0xCC, 0x81));
}

// Special tokens are matched in the text as written, as Hugging Face matches added tokens that
// are not "normalized"; the text between them is normalized on its own.
TEST(NormalizingTokenizerTest, SpecialTokensAreMatchedBeforeNormalization) {
  auto tokenizer = BpeWith(Normalization::kNfc);
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<A\u030A>e\u0301"),
              ElementsAre(kDecomposedRing, kEAcute));
  // Composed, the text is no longer the token: "Å" is C3 85.
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("<\u00C5>"), ElementsAre('<', 0xC3, 0x85, '>'));
  // A mark after a special token has nothing to compose with.
  EXPECT_THAT(tokenizer->EncodeWithSpecialTokens("e<A\u030A>\u0301"),
              ElementsAre('e', kDecomposedRing, 0xCC, 0x81));
}

TEST(NormalizingTokenizerTest, SentencePieceStyleEncodesTheNormalizedText) {
  // Pieces "▁", "é" and "▁é"; no byte tokens, so anything else is unknown (0).
  SpmVocabulary vocabulary{.tokens = {"<unk>", "▁", "\u00E9", "▁\u00E9"},
                           .scores = {0, -1, -1, -2},
                           .types = {TokenType::kUnknown, TokenType::kNormal, TokenType::kNormal,
                                     TokenType::kNormal},
                           .unknown_id = 0,
                           .add_bos = false,
                           .normalization = Normalization::kNfc};
  auto tokenizer = SpmTokenizer::Create(vocabulary);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->Encode("e\u0301"), ElementsAre(3));
}

}  // namespace
}  // namespace tessera
