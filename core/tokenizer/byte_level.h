// The byte-level alphabet of GPT-2-style BPE (Llama 3, Qwen2): every byte value stands for one
// printable Unicode character, so any byte string becomes a text of characters a vocabulary can
// spell. Printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68
// (controls, space, DEL, NBSP, soft hyphen) stand for U+0100 onwards in byte order, so the
// space 0x20 is "Ġ" (U+0120) and the newline 0x0A is "Ċ" (U+010A).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

// The character byte `byte` stands for, UTF-8 encoded.
std::string_view ByteLevelCharacter(uint8_t byte);

// The byte the UTF-8 character `character` stands for; none for a character outside the table.
std::optional<uint8_t> ByteOfByteLevelCharacter(std::string_view character);

// `bytes` spelled in the byte-level alphabet, one character per byte.
std::string ToByteLevel(std::string_view bytes);

// The bytes a byte-level text stands for. Characters outside the table are kept as they are.
std::string FromByteLevel(std::string_view text);

}  // namespace tessera
