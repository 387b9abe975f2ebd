#include "core/tokenizer/pretokenizer.h"

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Pretokenizer Make(std::vector<std::string> regexes) {
  auto pretokenizer = Pretokenizer::Create(regexes);
  EXPECT_TRUE(pretokenizer.ok()) << pretokenizer.status();
  return *std::move(pretokenizer);
}

std::vector<std::string> Split(const Pretokenizer& pretokenizer, std::string_view text) {
  const std::vector<std::string_view> views = pretokenizer.Split(text);
  const std::vector<std::string> pieces(views.begin(), views.end());
  EXPECT_EQ(absl::StrJoin(pieces, ""), text) << "the pieces must cover the text";
  return pieces;
}

// The expected pieces below follow the regexes' alternatives by hand, first alternative first.

TEST(PretokenizerTest, Llama3KeepsDigitsInThreesAndContractionsInAnyCase) {
  const Pretokenizer llama3 = Make({std::string(kLlama3SplitRegex)});
  EXPECT_THAT(Split(llama3, "Hello world"), ElementsAre("Hello", " world"));
  EXPECT_THAT(Split(llama3, "1234567"), ElementsAre("123", "456", "7"));
  EXPECT_THAT(Split(llama3, "I'VE don't"), ElementsAre("I", "'VE", " don", "'t"));
  // A space before letters joins them; before a digit it stands alone.
  EXPECT_THAT(Split(llama3, "a 12"), ElementsAre("a", " ", "12"));
}

TEST(PretokenizerTest, Llama3SplitsWhitespaceAndNewlines) {
  const Pretokenizer llama3 = Make({std::string(kLlama3SplitRegex)});
  // \s+(?!\S) leaves the last space to the word after it.
  EXPECT_THAT(Split(llama3, "   hello"), ElementsAre("  ", " hello"));
  EXPECT_THAT(Split(llama3, "a\r\nb"), ElementsAre("a", "\r\n", "b"));
  // \s*[\r\n]+ takes spaces before newlines along.
  EXPECT_THAT(Split(llama3, "a  \n\nb"), ElementsAre("a", "  \n\n", "b"));
  EXPECT_THAT(Split(llama3, "end.\n\n"), ElementsAre("end", ".\n\n"));
  EXPECT_THAT(Split(llama3, "a \t"), ElementsAre("a", " \t"));
  // Symbols take one leading space along.
  EXPECT_THAT(Split(llama3, "x = (y)"), ElementsAre("x", " =", " (", "y", ")"));
}

TEST(PretokenizerTest, Llama3HandlesLettersOfAnyScript) {
  const Pretokenizer llama3 = Make({std::string(kLlama3SplitRegex)});
  EXPECT_THAT(Split(llama3, "нещо на Български"), ElementsAre("нещо", " на", " Български"));
  // Han characters are letters; "～" is a symbol.
  EXPECT_THAT(Split(llama3, "我想在apple工作1314天～"),
              ElementsAre("我想在apple工作", "131", "4", "天", "～"));
  // The emoji are symbols and join into one run; the ZWJ (a format character) too.
  EXPECT_THAT(Split(llama3, " 😶\u200d🌫️ ok"), ElementsAre(" 😶\u200d🌫️", " ok"));
}

TEST(PretokenizerTest, Qwen2KeepsEveryDigitApart) {
  const Pretokenizer qwen2 = Make({std::string(kQwen2SplitRegex)});
  EXPECT_THAT(Split(qwen2, "x12345"), ElementsAre("x", "1", "2", "3", "4", "5"));
  EXPECT_THAT(Split(qwen2, "I'M here"), ElementsAre("I", "'M", " here"));
}

TEST(PretokenizerTest, Gpt2KeepsDigitRunsAndOnlyLowerCaseContractions) {
  const Pretokenizer gpt2 = Make({std::string(kGpt2SplitRegex)});
  EXPECT_THAT(Split(gpt2, "x 12345"), ElementsAre("x", " 12345"));
  EXPECT_THAT(Split(gpt2, "I'VE I've"), ElementsAre("I", "'", "VE", " I", "'ve"));
  // Without a newline rule, \s+(?!\S) leaves the last newline on its own.
  EXPECT_THAT(Split(gpt2, "a\n\nb"), ElementsAre("a", "\n", "\n", "b"));
}

TEST(PretokenizerTest, TextBetweenMatchesIsAPieceToo) {
  const Pretokenizer letters = Make({"[a-z]+"});
  EXPECT_THAT(Split(letters, "ab, cd!"), ElementsAre("ab", ", ", "cd", "!"));
}

TEST(PretokenizerTest, InvalidUtf8IsNeverMatchedButKept) {
  const Pretokenizer llama3 = Make({std::string(kLlama3SplitRegex)});
  EXPECT_THAT(Split(llama3,
                    "ab\xFF\xFE"
                    "cd"),
              ElementsAre("ab", "\xFF\xFE", "cd"));
  // A lead byte without its continuation.
  EXPECT_THAT(Split(llama3, "x\xE4"), ElementsAre("x", "\xE4"));
}

TEST(PretokenizerTest, LaterRegexesSplitThePiecesOfEarlierOnes) {
  const Pretokenizer two_steps = Make({"[a-z]+|[0-9]+", "[a-z]{2}"});
  EXPECT_THAT(Split(two_steps, "abcde12"), ElementsAre("ab", "cd", "e", "12"));
}

TEST(PretokenizerTest, NoRegexesLeaveTheTextWhole) {
  const Pretokenizer none = Make({});
  EXPECT_THAT(Split(none, "a b"), ElementsAre("a b"));
  EXPECT_THAT(Split(none, ""), IsEmpty());
}

TEST(PretokenizerTest, EmptyMatchesSplitNothing) {
  const Pretokenizer maybe = Make({"x*"});
  EXPECT_THAT(Split(maybe, "axxb"), ElementsAre("a", "xx", "b"));
  const Pretokenizer at_end = Make({"$"});
  EXPECT_THAT(Split(at_end, "ab"), ElementsAre("ab"));
}

TEST(PretokenizerTest, LongRunsAreSplitWhole) {
  const Pretokenizer llama3 = Make({std::string(kLlama3SplitRegex)});
  const std::string spaces(1 << 20, ' ');
  EXPECT_THAT(Split(llama3, spaces), ElementsAre(spaces));
  const std::string letters(1 << 20, 'a');
  EXPECT_THAT(Split(llama3, letters), ElementsAre(letters));
  const std::string digits(3 << 18, '7');
  const std::vector<std::string_view> pieces = llama3.Split(digits);
  EXPECT_EQ(pieces.size(), 1u << 18);
}

TEST(PretokenizerTest, RejectsARegexThatDoesNotCompile) {
  auto pretokenizer = Pretokenizer::Create(std::vector<std::string>{"(unclosed"});
  ASSERT_FALSE(pretokenizer.ok());
  EXPECT_EQ(pretokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(pretokenizer.status()), std::string(reason::kInvalidModelFile));
  EXPECT_THAT(std::string(pretokenizer.status().message()), HasSubstr("(unclosed"));
}

}  // namespace
}  // namespace tessera
