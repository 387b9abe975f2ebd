#include "core/tokenizer/text_stream.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tessera {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Pushes each piece and returns what each Push gave.
std::vector<std::string> PushAll(TextStream& stream, const std::vector<std::string>& pieces) {
  std::vector<std::string> outputs;
  for (const std::string& piece : pieces) outputs.push_back(stream.Push(piece));
  return outputs;
}

TEST(ToValidUtf8Test, KeepsValidTextAndReplacesInvalidBytes) {
  EXPECT_EQ(ToValidUtf8("h\xC3\xA9llo"), "h\xC3\xA9llo");
  // A stray continuation byte, and a lead byte cut off at the end: one U+FFFD each.
  EXPECT_EQ(ToValidUtf8("a\x80" "b\xE2\x82"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
}

TEST(TextStreamTest, AsciiPassesThroughAtOnce) {
  TextStream stream(/*strip_leading_space=*/false);
  EXPECT_EQ(stream.Push("Hello"), "Hello");
  EXPECT_EQ(stream.Push(", world"), ", world");
  EXPECT_EQ(stream.Flush(), "");
}

TEST(TextStreamTest, EmojiArrivingByteByByteComesOutWhole) {
  TextStream stream(/*strip_leading_space=*/false);
  // U+1F600 GRINNING FACE is F0 9F 98 80.
  EXPECT_EQ(PushAll(stream, {"\xF0", "\x9F", "\x98", "\x80"}),
            (std::vector<std::string>{"", "", "", "\xF0\x9F\x98\x80"}));
  EXPECT_EQ(stream.Flush(), "");
}

TEST(TextStreamTest, EverySplitOfMixedWidthTextGivesWholeCharactersAsSoonAsComplete) {
  // "a" (1 byte), U+00E9 (2), U+20AC (3), U+1F600 (4), "z" (1).
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
  const std::vector<size_t> char_ends = {1, 3, 6, 10, 11};
  const size_t cuts = text.size() - 1;
  // Bit i of `split` set: cut the text after byte i.
  for (uint32_t split = 0; split < (1u << cuts); ++split) {
    TextStream stream(/*strip_leading_space=*/false);
    std::string emitted;
    size_t begin = 0;
    for (size_t end = 1; end <= text.size(); ++end) {
      if (end < text.size() && !(split & (1u << (end - 1)))) continue;
      emitted += stream.Push(text.substr(begin, end - begin));
      begin = end;
      size_t complete = 0;
      for (size_t char_end : char_ends) {
        if (char_end <= end) complete = char_end;
      }
      ASSERT_EQ(emitted, text.substr(0, complete)) << "split " << split << " after byte " << end;
    }
    EXPECT_EQ(stream.Flush(), "");
  }
}

TEST(TextStreamTest, StrayContinuationByteIsReplacedImmediately) {
  TextStream stream(/*strip_leading_space=*/false);
  EXPECT_EQ(stream.Push("a\x80"), std::string("a") + kReplacement);
  EXPECT_EQ(stream.Push("b"), "b");
}

TEST(TextStreamTest, ImpossibleLeadBytesAreReplaced) {
  TextStream stream(/*strip_leading_space=*/false);
  // C0 and C1 only start overlong forms; F5..FF would encode beyond U+10FFFF.
  for (const char* byte : {"\xC0", "\xC1", "\xF5", "\xFF"}) {
    EXPECT_EQ(stream.Push(byte), kReplacement) << "byte " << int(uint8_t(byte[0]));
  }
}

TEST(TextStreamTest, OverlongSurrogateAndOutOfRangeSequencesAreReplacedBytewise) {
  // The second byte is already outside what the lead byte allows, so each byte is a maximal
  // subpart of its own.
  const std::string three = std::string(kReplacement) + kReplacement + kReplacement;
  const std::string four = three + kReplacement;
  struct Case {
    const char* bytes;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"\xC0\xAF", std::string(kReplacement) + kReplacement},  // overlong "/"
      {"\xE0\x80\xAF", three},                                 // overlong "/"
      {"\xED\xA0\x80", three},                                 // surrogate U+D800
      {"\xF0\x80\x80\xAF", four},                              // overlong "/"
      {"\xF4\x90\x80\x80", four},                              // U+110000
  };
  for (const Case& c : cases) {
    TextStream stream(/*strip_leading_space=*/false);
    EXPECT_EQ(stream.Push(c.bytes), c.expected) << c.bytes;
    EXPECT_EQ(stream.Flush(), "");
  }
}

TEST(TextStreamTest, InterruptedSequenceBecomesOneReplacementWhenTheInterruptionArrives) {
  TextStream stream(/*strip_leading_space=*/false);
  EXPECT_EQ(stream.Push("\xE2\x82"), "");  // the start of U+20AC
  EXPECT_EQ(stream.Push("A"), std::string(kReplacement) + "A");
}

TEST(TextStreamTest, MaximalSubpartsFollowTheUnicodeStandardExample) {
  // The Unicode Standard, chapter 3.9, "U+FFFD Substitution of Maximal Subparts": the bytes
  // 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 convert to
  // 0061 FFFD FFFD FFFD 0062 FFFD 0063 FFFD FFFD 0064.
  const std::string r = kReplacement;
  const std::string expected = "a" + r + r + r + "b" + r + "c" + r + r + "d";
  const std::string bytes = std::string("a\xF1\x80\x80\xE1\x80\xC2") + "b\x80" + "c\x80\xBF" + "d";

  TextStream whole(/*strip_leading_space=*/false);
  EXPECT_EQ(whole.Push(bytes) + whole.Flush(), expected);

  TextStream bytewise(/*strip_leading_space=*/false);
  std::string emitted;
  for (char byte : bytes) emitted += bytewise.Push(std::string(1, byte));
  EXPECT_EQ(emitted + bytewise.Flush(), expected);
}

TEST(TextStreamTest, FlushReplacesATruncatedCharacterOnce) {
  TextStream stream(/*strip_leading_space=*/false);
  EXPECT_EQ(stream.Push("ok\xF0\x9F\x98"), "ok");
  EXPECT_EQ(stream.Flush(), kReplacement);
  EXPECT_EQ(stream.Flush(), "");
  EXPECT_EQ(stream.Push("!"), "!");
}

TEST(TextStreamTest, StripsOneLeadingSpace) {
  TextStream stream(/*strip_leading_space=*/true);
  EXPECT_EQ(stream.Push("  Hello"), " Hello");
  EXPECT_EQ(stream.Push(" world"), " world");
}

TEST(TextStreamTest, StripsTheLeadingSpaceAfterEmptyPushes) {
  TextStream stream(/*strip_leading_space=*/true);
  EXPECT_EQ(stream.Push(""), "");
  EXPECT_EQ(stream.Push(""), "");
  EXPECT_EQ(stream.Push(" Hi"), "Hi");
  EXPECT_EQ(stream.Push(" there"), " there");
}

TEST(TextStreamTest, KeepsASpaceThatIsNotTheFirstByte) {
  TextStream stream(/*strip_leading_space=*/true);
  EXPECT_EQ(stream.Push("\xC3"), "");
  EXPECT_EQ(stream.Push("\xA9 x"), "\xC3\xA9 x");
}

TEST(TextStreamTest, KeepsTheLeadingSpaceWhenNotAsked) {
  TextStream stream(/*strip_leading_space=*/false);
  EXPECT_EQ(stream.Push(" Hello"), " Hello");
}

}  // namespace
}  // namespace tessera
