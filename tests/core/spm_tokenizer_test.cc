#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/format/gguf.h"
#include "core/tokenizer/spm.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A hand-written vocabulary: <unk>, <s>, </s>, optionally the 256 byte tokens, then `pieces`.
// Ids: 0 <unk>, 1 <s>, 2 </s>, bytes from 3 (so byte b is 3 + b), pieces after them.
struct Piece {
  std::string text;
  float score;
  TokenType type = TokenType::kNormal;
};

SpmVocabulary MakeVocabulary(const std::vector<Piece>& pieces, bool with_bytes) {
  SpmVocabulary vocabulary;
  auto add = [&](std::string text, float score, TokenType type) {
    vocabulary.tokens.push_back(std::move(text));
    vocabulary.scores.push_back(score);
    vocabulary.types.push_back(type);
  };
  add("<unk>", 0, TokenType::kUnknown);
  add("<s>", 0, TokenType::kControl);
  add("</s>", 0, TokenType::kControl);
  if (with_bytes) {
    for (int byte = 0; byte < 256; ++byte) {
      add(absl::StrFormat("<0x%02X>", byte), 0, TokenType::kByte);
    }
  }
  for (const Piece& piece : pieces) add(piece.text, piece.score, piece.type);
  vocabulary.unknown_id = 0;
  vocabulary.bos_id = 1;
  vocabulary.eos_id = 2;
  return vocabulary;
}

// Id of the first hand-written piece.
constexpr int32_t kFirstPiece = 3 + 256;
constexpr int32_t kFirstPieceWithoutBytes = 3;

std::unique_ptr<SpmTokenizer> MakeTokenizer(SpmVocabulary vocabulary) {
  auto tokenizer = SpmTokenizer::Create(std::move(vocabulary));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

// The pieces of a text of single letters with no space prefix, so the ids are easy to name.
std::unique_ptr<SpmTokenizer> LetterTokenizer(const std::vector<Piece>& merged) {
  std::vector<Piece> pieces = {{"a", -10}, {"b", -10}, {"c", -10}};
  pieces.insert(pieces.end(), merged.begin(), merged.end());
  SpmVocabulary vocabulary = MakeVocabulary(pieces, /*with_bytes=*/true);
  vocabulary.add_space_prefix = false;
  return MakeTokenizer(std::move(vocabulary));
}
constexpr int32_t kA = kFirstPiece, kB = kFirstPiece + 1, kC = kFirstPiece + 2;
constexpr int32_t kMerged0 = kFirstPiece + 3, kMerged1 = kFirstPiece + 4;

TEST(SpmTokenizerTest, MergesTheHighestScoringPairFirst) {
  auto ab_wins = LetterTokenizer({{"ab", -1}, {"bc", -2}});
  EXPECT_THAT(ab_wins->Encode("abc"), ElementsAre(kMerged0, kC));
  auto bc_wins = LetterTokenizer({{"ab", -2}, {"bc", -1}});
  EXPECT_THAT(bc_wins->Encode("abc"), ElementsAre(kA, kMerged1));
}

TEST(SpmTokenizerTest, MergesTheLeftmostPairOnTies) {
  auto tokenizer = LetterTokenizer({{"ab", -1}, {"bc", -1}});
  EXPECT_THAT(tokenizer->Encode("abc"), ElementsAre(kMerged0, kC));
  auto doubles = LetterTokenizer({{"aa", -1}});
  EXPECT_THAT(doubles->Encode("aaa"), ElementsAre(kMerged0, kA));
  EXPECT_THAT(doubles->Encode("aaaa"), ElementsAre(kMerged0, kMerged0));
}

TEST(SpmTokenizerTest, MergedSymbolsMergeFurther) {
  auto tokenizer = LetterTokenizer({{"ab", -1}, {"abc", -5}});
  EXPECT_THAT(tokenizer->Encode("abc"), ElementsAre(kMerged1));
}

TEST(SpmTokenizerTest, APieceIsOnlyReachedThroughPiecesOfTwoSymbols) {
  // "abc" scores best, but neither "ab" nor "bc" exists, so no pair ever forms it.
  auto tokenizer = LetterTokenizer({{"abc", 0}});
  EXPECT_THAT(tokenizer->Encode("abc"), ElementsAre(kA, kB, kC));
}

TEST(SpmTokenizerTest, EscapesSpacesAndAddsTheSpacePrefix) {
  SpmVocabulary vocabulary =
      MakeVocabulary({{"▁", -5}, {"a", -5}, {"b", -5}, {"▁a", -1}, {"▁b", -1}},
                     /*with_bytes=*/true);
  const int32_t marker = kFirstPiece, a = kFirstPiece + 1, b = kFirstPiece + 2;
  const int32_t marker_a = kFirstPiece + 3, marker_b = kFirstPiece + 4;

  auto with_prefix = MakeTokenizer(vocabulary);
  EXPECT_THAT(with_prefix->Encode("a b"), ElementsAre(marker_a, marker_b));
  EXPECT_THAT(with_prefix->Encode(" a"), ElementsAre(marker, marker_a));
  EXPECT_THAT(with_prefix->Encode(""), IsEmpty());
  EXPECT_TRUE(with_prefix->strips_leading_space());

  vocabulary.add_space_prefix = false;
  auto without_prefix = MakeTokenizer(vocabulary);
  EXPECT_THAT(without_prefix->Encode("a b"), ElementsAre(a, marker_b));
  EXPECT_THAT(without_prefix->Encode("b "), ElementsAre(b, marker));
  EXPECT_FALSE(without_prefix->strips_leading_space());
}

TEST(SpmTokenizerTest, UnknownCharactersFallBackToBytes) {
  auto tokenizer = LetterTokenizer({});
  // U+00E9 is C3 A9; byte b is token 3 + b.
  EXPECT_THAT(tokenizer->Encode("a\xC3\xA9"), ElementsAre(kA, 3 + 0xC3, 3 + 0xA9));
  // A lone lead byte is one symbol, whatever follows.
  EXPECT_THAT(tokenizer->Encode(std::string("\xC3") + "b"), ElementsAre(3 + 0xC3, kB));
}

TEST(SpmTokenizerTest, UnknownCharactersBecomeUnknownWithoutByteTokens) {
  SpmVocabulary vocabulary = MakeVocabulary({{"a", -1}}, /*with_bytes=*/false);
  vocabulary.add_space_prefix = false;
  auto tokenizer = MakeTokenizer(std::move(vocabulary));
  EXPECT_THAT(tokenizer->Encode("a\xC3\xA9z"), ElementsAre(kFirstPieceWithoutBytes, 0, 0));
}

TEST(SpmTokenizerTest, SpecialTokenTextIsPlainText) {
  // "<s" is a normal piece and "<s>" the control token BOS: the text "<s>" must not become BOS.
  auto tokenizer = LetterTokenizer({{"<", -10}, {"s", -10}, {">", -10}, {"<s", -1}});
  const int32_t close = kFirstPiece + 5, open_s = kFirstPiece + 6;
  EXPECT_THAT(tokenizer->Encode("<s>"), ElementsAre(open_s, close));
}

TEST(SpmTokenizerTest, TokenBytesFollowTheTokenType) {
  SpmVocabulary vocabulary = MakeVocabulary(
      {{"▁hi", -1}, {"<|user|>", 0, TokenType::kUserDefined}, {"[PAD]", 0, TokenType::kUnused}},
      /*with_bytes=*/true);
  auto tokenizer = MakeTokenizer(std::move(vocabulary));
  EXPECT_EQ(tokenizer->TokenBytes(0), "");  // <unk>
  EXPECT_EQ(tokenizer->TokenBytes(1), "");  // <s>
  EXPECT_EQ(tokenizer->TokenBytes(2), "");  // </s>
  EXPECT_EQ(tokenizer->TokenBytes(3 + 0x0A), "\n");
  EXPECT_EQ(tokenizer->TokenBytes(3 + 0xC3), "\xC3");
  EXPECT_EQ(tokenizer->TokenBytes(kFirstPiece), " hi");
  EXPECT_EQ(tokenizer->TokenBytes(kFirstPiece + 1), "<|user|>");
  EXPECT_EQ(tokenizer->TokenBytes(kFirstPiece + 2), "");
  EXPECT_EQ(tokenizer->TokenBytes(-1), "");
  EXPECT_EQ(tokenizer->TokenBytes(tokenizer->vocab_size()), "");
  EXPECT_EQ(tokenizer->TokenText(kFirstPiece), "▁hi");
  EXPECT_EQ(tokenizer->TokenText(3 + 0xC3), "<0xC3>");
}

TEST(SpmTokenizerTest, DecodeRemovesTheSpacePrefixOnlyAtTheStart) {
  auto tokenizer = MakeTokenizer(MakeVocabulary({{"▁hi", -1}, {"▁", -2}}, /*with_bytes=*/true));
  const int32_t hi = kFirstPiece, space = kFirstPiece + 1;
  const std::vector<int32_t> ids = {1, hi, space, 3 + 0xC3, 3 + 0xA9};  // BOS " hi é"
  EXPECT_EQ(tokenizer->Decode(ids, /*at_text_start=*/true), "hi \xC3\xA9");
  EXPECT_EQ(tokenizer->Decode(ids, /*at_text_start=*/false), " hi \xC3\xA9");
  const std::vector<int32_t> two_spaces = {space, hi};
  EXPECT_EQ(tokenizer->Decode(two_spaces, /*at_text_start=*/true), " hi");
}

TEST(SpmTokenizerTest, ALiteralSpaceMarkerDoesNotRoundTrip) {
  // Text that already contains U+2581 is indistinguishable from an escaped space, as in
  // SentencePiece itself.
  auto tokenizer = MakeTokenizer(MakeVocabulary({{"▁", -1}, {"a", -1}}, /*with_bytes=*/true));
  const int32_t marker = kFirstPiece, a = kFirstPiece + 1;
  EXPECT_THAT(tokenizer->Encode("a▁"), ElementsAre(marker, a, marker));
  EXPECT_EQ(tokenizer->Decode(tokenizer->Encode("a▁"), /*at_text_start=*/true), "a ");
}

TEST(SpmTokenizerTest, ReportsItsSpecialTokens) {
  auto tokenizer = LetterTokenizer({});
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->vocab_size(), kFirstPiece + 3);
}

void ExpectInvalid(SpmVocabulary vocabulary, const std::string& message_part) {
  auto tokenizer = SpmTokenizer::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(tokenizer.status()), std::string(reason::kInvalidModelFile));
  EXPECT_THAT(std::string(tokenizer.status().message()), ::testing::HasSubstr(message_part));
}

TEST(SpmTokenizerTest, RejectsInconsistentVocabularies) {
  const SpmVocabulary good = MakeVocabulary({{"a", -1}}, /*with_bytes=*/true);
  ASSERT_TRUE(SpmTokenizer::Create(good).ok());

  SpmVocabulary empty;
  ExpectInvalid(empty, "no tokens");
  SpmVocabulary short_scores = good;
  short_scores.scores.pop_back();
  ExpectInvalid(short_scores, "scores");
  SpmVocabulary short_types = good;
  short_types.types.pop_back();
  ExpectInvalid(short_types, "types");
  SpmVocabulary bad_type = good;
  bad_type.types.back() = static_cast<TokenType>(9);
  ExpectInvalid(bad_type, "type 9");
  SpmVocabulary bos_out_of_range = good;
  bos_out_of_range.bos_id = static_cast<int32_t>(good.tokens.size());
  ExpectInvalid(bos_out_of_range, "bos_token_id");
  SpmVocabulary negative_eos = good;
  negative_eos.eos_id = -1;
  ExpectInvalid(negative_eos, "eos_token_id");
  SpmVocabulary unknown_out_of_range = good;
  unknown_out_of_range.unknown_id = 100000;
  ExpectInvalid(unknown_out_of_range, "unknown_token_id");
  SpmVocabulary bos_missing = good;
  bos_missing.bos_id.reset();
  ExpectInvalid(bos_missing, "add_bos_token");
  SpmVocabulary bad_byte = good;
  bad_byte.tokens[3] = "<0xZZ>";
  ExpectInvalid(bad_byte, "<0xZZ>");
  SpmVocabulary missing_byte = good;
  missing_byte.types[3] = TokenType::kNormal;
  ExpectInvalid(missing_byte, "255 of 256");
  SpmVocabulary nothing_for_unknown_text = MakeVocabulary({{"a", -1}}, /*with_bytes=*/false);
  nothing_for_unknown_text.unknown_id.reset();
  ExpectInvalid(nothing_for_unknown_text, "unknown");
}

// The reference vectors: test strings and the ids the Hugging Face tokenizer gives them without
// special tokens (llama.cpp's tokenizer tests; tests/data/SOURCES.md).
struct ReferenceCase {
  std::string text;
  std::vector<int32_t> ids;
};

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// "<vocab>.inp" holds the strings separated by "\n__ggml_vocab_test__\n"; "<vocab>.out" the ids,
// one line per string.
std::vector<ReferenceCase> ReadReferenceCases(const std::string& vocab_path) {
  const std::vector<std::string> texts =
      absl::StrSplit(ReadFile(vocab_path + ".inp"), "\n__ggml_vocab_test__\n");
  const std::vector<std::string> lines = absl::StrSplit(ReadFile(vocab_path + ".out"), '\n');
  EXPECT_EQ(texts.size(), lines.size());
  std::vector<ReferenceCase> cases;
  for (size_t i = 0; i < texts.size() && i < lines.size(); ++i) {
    ReferenceCase reference{.text = texts[i]};
    for (absl::string_view id : absl::StrSplit(lines[i], ' ', absl::SkipEmpty())) {
      reference.ids.push_back(std::stoi(std::string(id)));
    }
    cases.push_back(std::move(reference));
  }
  return cases;
}

std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& gguf_path) {
  auto file = gguf::GgufFile::Open(gguf_path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return nullptr;
  auto tokenizer = TokenizerFromGguf(**file);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

class ReferenceVocabularyTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string VocabPath() const {
    return std::string(TESSERA_TEST_DATA_DIR) + "/tokenizer/" + GetParam();
  }
};

TEST_P(ReferenceVocabularyTest, EncodesLikeTheHuggingFaceTokenizer) {
  const std::vector<ReferenceCase> cases = ReadReferenceCases(VocabPath());
  ASSERT_EQ(cases.size(), 47u);
  auto tokenizer = LoadTokenizer(VocabPath());
  ASSERT_NE(tokenizer, nullptr);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(tokenizer->Encode(cases[i].text), cases[i].ids)
        << "case " << i << ": \"" << cases[i].text << "\"";
  }
}

// Every reference string round-trips, leading spaces included: Encode adds exactly one "▁" in
// front and Decode at the text start removes exactly one space.
TEST_P(ReferenceVocabularyTest, DecodeOfEncodeGivesTheTextBack) {
  const std::vector<ReferenceCase> cases = ReadReferenceCases(VocabPath());
  auto tokenizer = LoadTokenizer(VocabPath());
  ASSERT_NE(tokenizer, nullptr);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(tokenizer->Decode(tokenizer->Encode(cases[i].text), /*at_text_start=*/true),
              cases[i].text)
        << "case " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, ReferenceVocabularyTest,
                         ::testing::Values("ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf"),
                         [](const auto& info) {
                           return info.index == 0 ? std::string("LlamaSpm") : std::string("Phi3");
                         });

// The default model's 512-token vocabulary (models/stories260K.gguf). Expected ids are read off
// its vocabulary by hand: ids 3..258 are "<0x00>".."<0xFF>"; "▁Once" is 403, "▁upon" 407,
// "▁a" 261, "▁time" 378, "▁Lily" 317, "." 426. Each merge path was followed by hand through
// the scores, e.g. "▁Once": "▁O" (-60), then "▁On" (-62) before "ce" (-72), then "▁Once".
class DefaultModelVocabularyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tokenizer_ = LoadTokenizer(std::string(TESSERA_MODELS_DIR) + "/stories260K.gguf");
    ASSERT_NE(tokenizer_, nullptr);
  }
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(DefaultModelVocabularyTest, HasLlamaSpecialTokens) {
  EXPECT_EQ(tokenizer_->vocab_size(), 512);
  EXPECT_EQ(tokenizer_->bos_id(), 1);
  EXPECT_EQ(tokenizer_->eos_id(), 2);
  EXPECT_TRUE(tokenizer_->add_bos());
  EXPECT_TRUE(tokenizer_->strips_leading_space());
}

TEST_F(DefaultModelVocabularyTest, EncodesWordsToTheirPieces) {
  EXPECT_THAT(tokenizer_->Encode("Once upon a time"), ElementsAre(403, 407, 261, 378));
  EXPECT_THAT(tokenizer_->Encode("Lily."), ElementsAre(317, 426));
}

TEST_F(DefaultModelVocabularyTest, FallsBackToBytesForCharactersOutsideTheVocabulary) {
  // U+00FC is C3 BC and has no piece ("é" does: 485). "▁" alone is 410.
  EXPECT_THAT(tokenizer_->Encode("\xC3\xBC"), ElementsAre(410, 3 + 0xC3, 3 + 0xBC));
  EXPECT_EQ(tokenizer_->TokenText(3 + 0xC3), "<0xC3>");
  EXPECT_THAT(tokenizer_->Encode("\xC3\xA9"), ElementsAre(410, 485));
  EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode("\xC3\xBC"), /*at_text_start=*/true), "\xC3\xBC");
}

}  // namespace
}  // namespace tessera
