#include "core/tokenizer/byte_level.h"

#include <array>

#include "absl/container/flat_hash_map.h"
#include "core/tokenizer/utf8.h"

namespace tessera {
namespace {

// GPT-2's printable bytes, which stand for the code point of the same value.
bool IsPrintable(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

// Every code point in the table is below U+0800, so it takes one or two UTF-8 bytes.
std::string EncodeUtf8(int code_point) {
  if (code_point < 0x80) return std::string(1, static_cast<char>(code_point));
  return {static_cast<char>(0xC0 | (code_point >> 6)),
          static_cast<char>(0x80 | (code_point & 0x3F))};
}

struct ByteLevelTable {
  std::array<std::string, 256> characters;
  absl::flat_hash_map<std::string_view, uint8_t> bytes;  // keys point into `characters`
};

const ByteLevelTable& Table() {
  static const ByteLevelTable* const table = [] {
    auto* built = new ByteLevelTable;
    int next_unprintable = 0x100;
    for (int byte = 0; byte < 256; ++byte) {
      const int code_point = IsPrintable(byte) ? byte : next_unprintable++;
      built->characters[byte] = EncodeUtf8(code_point);
      built->bytes[built->characters[byte]] = static_cast<uint8_t>(byte);
    }
    return built;
  }();
  return *table;
}

}  // namespace

std::string_view ByteLevelCharacter(uint8_t byte) { return Table().characters[byte]; }

std::optional<uint8_t> ByteOfByteLevelCharacter(std::string_view character) {
  const auto& bytes = Table().bytes;
  const auto it = bytes.find(character);
  if (it == bytes.end()) return std::nullopt;
  return it->second;
}

std::string ToByteLevel(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size() * 2);
  for (char byte : bytes) text += ByteLevelCharacter(static_cast<uint8_t>(byte));
  return text;
}

std::string FromByteLevel(std::string_view text) {
  std::string bytes;
  bytes.reserve(text.size());
  while (!text.empty()) {
    const std::string_view character = text.substr(0, ScanUtf8Head(text).length);
    if (const std::optional<uint8_t> byte = ByteOfByteLevelCharacter(character)) {
      bytes += static_cast<char>(*byte);
    } else {
      bytes += character;
    }
    text.remove_prefix(character.size());
  }
  return bytes;
}

}  // namespace tessera
