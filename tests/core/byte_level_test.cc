#include "core/tokenizer/byte_level.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace tessera {
namespace {

// GPT-2's table (openai/gpt-2 encoder.py, bytes_to_unicode): printable bytes stand for
// themselves; the 68 others take U+0100, U+0101, ... in byte order: 0x00..0x20 are the first
// 33, 0x7F..0xA0 the next 34, 0xAD the last.
TEST(ByteLevelTest, PrintableBytesStandForThemselves) {
  EXPECT_EQ(ByteLevelCharacter('A'), "A");
  EXPECT_EQ(ByteLevelCharacter('!'), "!");
  EXPECT_EQ(ByteLevelCharacter('~'), "~");
  EXPECT_EQ(ByteLevelCharacter(0xE9), "\u00E9");  // é
  EXPECT_EQ(ByteLevelCharacter(0xA1), "\u00A1");  // ¡
  EXPECT_EQ(ByteLevelCharacter(0xFF), "\u00FF");  // ÿ
}

TEST(ByteLevelTest, OtherBytesTakeCodePointsFrom256InOrder) {
  EXPECT_EQ(ByteLevelCharacter(0x00), "\u0100");  // Ā
  EXPECT_EQ(ByteLevelCharacter('\t'), "\u0109");  // ĉ
  EXPECT_EQ(ByteLevelCharacter('\n'), "\u010A");  // Ċ
  EXPECT_EQ(ByteLevelCharacter('\r'), "\u010D");  // č
  EXPECT_EQ(ByteLevelCharacter(' '), "\u0120");   // Ġ
  EXPECT_EQ(ByteLevelCharacter(0x7F), "\u0121");  // 256 + 33
  EXPECT_EQ(ByteLevelCharacter(0xA0), "\u0142");  // 256 + 33 + 33
  EXPECT_EQ(ByteLevelCharacter(0xAD), "\u0143");  // the 68th
}

TEST(ByteLevelTest, EveryByteHasItsOwnCharacterAndComesBack) {
  std::set<std::string> characters;
  for (int byte = 0; byte < 256; ++byte) {
    const std::string_view character = ByteLevelCharacter(static_cast<uint8_t>(byte));
    characters.emplace(character);
    EXPECT_EQ(ByteOfByteLevelCharacter(character), byte);
  }
  EXPECT_EQ(characters.size(), 256u);
}

TEST(ByteLevelTest, SpellsTextAndReadsItBack) {
  EXPECT_EQ(ToByteLevel(" hello\n"), "\u0120hello\u010A");
  EXPECT_EQ(ToByteLevel("\u00E9"), "\u00C3\u00A9");  // C3 A9 -> Ã ©
  EXPECT_EQ(FromByteLevel("\u0120hello\u010A"), " hello\n");
  std::string every_byte;
  for (int byte = 0; byte < 256; ++byte) every_byte += static_cast<char>(byte);
  EXPECT_EQ(FromByteLevel(ToByteLevel(every_byte)), every_byte);
}

TEST(ByteLevelTest, CharactersOutsideTheTableAreKept) {
  EXPECT_EQ(ByteOfByteLevelCharacter("\u4F60"), std::nullopt);
  EXPECT_EQ(FromByteLevel("a\u4F60b"), "a\u4F60b");
}

}  // namespace
}  // namespace tessera
